/** Client states as /stats shows them; V2 clients only ever show 0, 3 or 4. */
export const ClientState = { Init: 0, Subscribed: 3, Closing: 4 } as const
export type ClientState = (typeof ClientState)[keyof typeof ClientState]

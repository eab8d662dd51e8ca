import { useCallback, useEffect, useRef, useState } from 'react'

/** Set by the server in index.html. */
export interface PageConfig {
  version: string
  basePath: string
  lookupd: string[]
  nsqd: string[]
  isAdmin: boolean
  historyIntervalMs: number
}

declare global {
  interface Window { NSQADMIN?: PageConfig }
}

export const config: PageConfig = window.NSQADMIN ?? {
  version: '', basePath: '/', lookupd: [], nsqd: [], isAdmin: true, historyIntervalMs: 5000,
}

const TOKEN_KEY = 'nsqadmin.token'

/**
 * nsqadmin's --http-bearer-token, for its /api. A browser cannot add a header to a navigation, so the operator opens
 * the dashboard once as `...?token=<token>`: the token is kept in this tab's sessionStorage (gone when the tab
 * closes) and removed from the address bar at once, so it stays out of history, bookmarks and shared links.
 */
function takeToken (): string | null {
  const url = new URL(window.location.href)
  const given = url.searchParams.get('token')
  if (given !== null) {
    sessionStorage.setItem(TOKEN_KEY, given)
    url.searchParams.delete('token')
    window.history.replaceState(window.history.state, '', url)
  }
  const kept = sessionStorage.getItem(TOKEN_KEY)
  return kept === '' ? null : kept
}

const token = takeToken()

/** An /api answer other than 2xx, with nsqadmin's message. */
export class ApiFailure extends Error {
  constructor (readonly status: number, message: string) {
    super(message)
  }
}

export async function api<T> (path: string, init?: { method: string, body?: unknown }): Promise<T> {
  const headers: Record<string, string> = {}
  if (init?.body !== undefined) headers['content-type'] = 'application/json'
  if (token !== null) headers.authorization = `Bearer ${token}`
  let res: Response
  try {
    res = await fetch(`${config.basePath}api/${path}`, {
      method: init?.method ?? 'GET',
      headers,
      body: init?.body === undefined ? undefined : JSON.stringify(init.body),
    })
  } catch {
    throw new ApiFailure(0, 'nsqadmin is not answering')
  }
  const text = await res.text()
  let body: { message?: string } = {}
  try {
    body = JSON.parse(text) as { message?: string }
  } catch {}
  if (res.status === 401) {
    const what = token === null ? 'needs its token' : 'refused the token this tab was given'
    throw new ApiFailure(401, `nsqadmin ${what}: open this page as ${window.location.pathname}?token=<token>`)
  }
  if (!res.ok) throw new ApiFailure(res.status, body.message ?? `HTTP ${res.status}`)
  return body as T
}

export const enc = encodeURIComponent

export interface Polled<T> {
  data: T | undefined
  error: ApiFailure | undefined
  reload: () => void
}

/**
 * Fetches now and every `everyMs`, keeping the last good data on screen while a refresh fails (the error is shown
 * beside it). A new `path` starts over.
 */
export function usePoll<T> (path: string | undefined, everyMs: number): Polled<T> {
  const [state, setState] = useState<{ path?: string, data?: T, error?: ApiFailure }>({})
  const seq = useRef(0)
  const load = useCallback(() => {
    if (path === undefined) return
    const mine = ++seq.current
    api<T>(path).then(
      (data) => { if (mine === seq.current) setState({ path, data }) },
      (error: unknown) => {
        if (mine !== seq.current) return
        setState((s) => ({ path, data: s.path === path ? s.data : undefined, error: error as ApiFailure }))
      }
    )
  }, [path])
  useEffect(() => {
    load()
    const timer = setInterval(load, everyMs)
    return () => {
      clearInterval(timer)
      seq.current++
    }
  }, [load, everyMs])
  const current = state.path === path
  return { data: current ? state.data : undefined, error: current ? state.error : undefined, reload: load }
}

export function fmt (n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '–'
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
}

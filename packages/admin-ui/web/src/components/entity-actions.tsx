import { ActionButton } from './action'

/** The confirmation each button asks, saying what the action does to this topic or channel. */
export interface EntityQuestions {
  pause: string
  unpause: string
  empty: string
  delete: string
}

/**
 * Pause or Unpause, Empty and Delete for a topic or a channel on every node that has it: the row of buttons under
 * the topic and channel pages' titles.
 */
export function EntityActions ({ kind, name, path, paused, questions, reload, deleted }: {
  kind: 'topic' | 'channel'
  name: string
  /** The topic's or channel's /api path. */
  path: string
  paused: boolean
  questions: EntityQuestions
  reload: () => void
  deleted: () => void
}) {
  const what = `${kind === 'topic' ? 'Topic' : 'Channel'} ${name}`
  const post = (action: string) => ({ path, method: 'POST', body: { action } })
  return (
    <div className='actions'>
      {paused
        ? (
          <ActionButton
            label='Unpause' question={questions.unpause} request={post('unpause')} success={`${what} unpaused`}
            after={reload}
          />
          )
        : (
          <ActionButton
            label='Pause' question={questions.pause} request={post('pause')} success={`${what} paused`} after={reload}
          />
          )}
      <ActionButton
        label='Empty' danger question={questions.empty} request={post('empty')} success={`${what} emptied`}
        after={reload}
      />
      <ActionButton
        label='Delete' danger question={questions.delete} request={{ path, method: 'DELETE' }}
        success={`${what} deleted`} after={deleted}
      />
    </div>
  )
}

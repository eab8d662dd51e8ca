import { createContext, useContext, useState, type ReactNode } from 'react'
import { api, config } from '../api'

interface Pending {
  question: string
  confirm: string
  danger: boolean
  run: () => Promise<string>
}

interface Outcome { ok: boolean, text: string }

const ActionContext = createContext<(p: Pending) => void>(() => {})

/** Every cluster-changing button goes through here: a confirmation dialog, then the result as a notice. */
export function ActionHost ({ children }: { children: ReactNode }) {
  const [pending, setPending] = useState<Pending>()
  const [busy, setBusy] = useState(false)
  const [outcome, setOutcome] = useState<Outcome>()
  const go = async (): Promise<void> => {
    if (pending === undefined) return
    setBusy(true)
    try {
      const text = await pending.run()
      setOutcome({ ok: true, text })
    } catch (err) {
      setOutcome({ ok: false, text: (err as Error).message })
    } finally {
      setBusy(false)
      setPending(undefined)
    }
  }
  return (
    <ActionContext.Provider value={(p) => { setOutcome(undefined); setPending(p) }}>
      {outcome !== undefined && (
        <div className={`banner ${outcome.ok ? 'ok' : 'error'}`} role='status' data-testid='action-result'>
          {outcome.text}
          <button className='close' aria-label='dismiss' onClick={() => setOutcome(undefined)}>×</button>
        </div>
      )}
      {children}
      {pending !== undefined && (
        <div className='modal-backdrop'>
          <div className='modal' role='dialog' aria-modal='true' aria-label='confirm'>
            <p>{pending.question}</p>
            <div className='modal-buttons'>
              <button onClick={() => setPending(undefined)} disabled={busy}>Cancel</button>
              <button
                className={pending.danger ? 'danger' : 'primary'}
                onClick={() => { go().catch(() => {}) }}
                disabled={busy}
                data-testid='confirm'
              >
                {pending.confirm}
              </button>
            </div>
          </div>
        </div>
      )}
    </ActionContext.Provider>
  )
}

/** An /api answer to an action: nsqadmin's warning in `message`, and whatever else the route sends. */
export type ActionAnswer = { message: string } & Record<string, unknown>

/**
 * A button that asks, calls the API, reports the answer (including nsqadmin's partial-failure warning). `success`
 * may read the answer (for example how many messages moved).
 */
export function ActionButton ({ label, question, request, success, danger = false, after }: {
  label: string
  question: string
  request: { path: string, method: string, body?: unknown }
  success: string | ((answer: ActionAnswer) => string)
  danger?: boolean
  after?: () => void
}) {
  const ask = useContext(ActionContext)
  if (!config.isAdmin) return null
  const run = async (): Promise<string> => {
    const res = await api<ActionAnswer>(request.path, { method: request.method, body: request.body })
    after?.()
    const text = typeof success === 'string' ? success : success(res)
    return res.message === '' ? text : `${text} (${res.message})`
  }
  return (
    <button className={danger ? 'danger' : ''} onClick={() => ask({ question, confirm: label, danger, run })}>
      {label}
    </button>
  )
}

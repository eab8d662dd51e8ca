import type { ReactNode } from 'react'
import type { ApiFailure } from '../api'

/** A failed poll (502: the cluster is out of reach) and nsqadmin's partial-failure warning. */
export function Banner ({ error, message }: { error?: ApiFailure, message?: string }) {
  return (
    <>
      {error !== undefined && (
        <div className='banner error' role='alert'>
          {error.status === 502 ? 'Cannot reach the cluster: ' : ''}{error.message}
        </div>
      )}
      {message !== undefined && message !== '' && <div className='banner warn' role='status'>{message}</div>}
    </>
  )
}

export function Empty ({ children }: { children: ReactNode }) {
  return <div className='empty'>{children}</div>
}

export function Loading () {
  return <div className='muted'>Loading…</div>
}

export function Paused ({ paused }: { paused: boolean }) {
  return paused ? <span className='badge paused'>paused</span> : null
}

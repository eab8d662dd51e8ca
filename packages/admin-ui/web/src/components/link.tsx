import type { MouseEvent, ReactNode } from 'react'
import { config } from '../api'

/** Client-side navigation under the base path (the server answers every page route with index.html). */
export function navigate (to: string): void {
  window.history.pushState(null, '', `${config.basePath}${to.replace(/^\//, '')}`)
  window.dispatchEvent(new PopStateEvent('popstate'))
}

export function Link ({ to, children, className }: { to: string, children: ReactNode, className?: string }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>): void => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
    e.preventDefault()
    navigate(to)
  }
  return <a className={className} href={`${config.basePath}${to.replace(/^\//, '')}`} onClick={onClick}>{children}</a>
}

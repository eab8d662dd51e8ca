import { StrictMode, useEffect, useState } from 'react'
import { createRoot } from 'react-dom/client'
import { config } from './api'
import { ActionHost } from './components/action'
import { Link } from './components/link'
import { ChannelPage } from './pages/channel'
import { CounterPage } from './pages/counter'
import { LookupPage } from './pages/lookup'
import { NodePage } from './pages/node'
import { NodesPage } from './pages/nodes'
import { TopicPage } from './pages/topic'
import { TopicsPage } from './pages/topics'
import './styles.css'

/** The page path below the base path, e.g. /topics/orders. */
function currentPath (): string {
  const p = window.location.pathname
  return p.startsWith(config.basePath) ? `/${p.slice(config.basePath.length)}` : p
}

function usePath (): string {
  const [path, setPath] = useState(currentPath)
  useEffect(() => {
    const on = (): void => setPath(currentPath())
    window.addEventListener('popstate', on)
    return () => window.removeEventListener('popstate', on)
  }, [])
  return path
}

function route (path: string) {
  const parts = path.split('/').filter((s) => s !== '').map(decodeURIComponent)
  const [first, a, b] = parts
  if (parts.length === 0 || (first === 'topics' && a === undefined)) return { nav: 'topics', page: <TopicsPage /> }
  if (first === 'topics' && a !== undefined && b === undefined) {
    return { nav: 'topics', page: <TopicPage key={a} topic={a} /> }
  }
  if (first === 'topics' && a !== undefined && b !== undefined) {
    return { nav: 'topics', page: <ChannelPage key={`${a}/${b}`} topic={a} channel={b} /> }
  }
  if (first === 'nodes' && a === undefined) return { nav: 'nodes', page: <NodesPage /> }
  if (first === 'nodes' && a !== undefined) return { nav: 'nodes', page: <NodePage key={a} node={a} /> }
  if (first === 'counter') return { nav: 'counter', page: <CounterPage /> }
  if (first === 'lookup') return { nav: 'lookup', page: <LookupPage /> }
  return { nav: '', page: <h1>Page not found</h1> }
}

function App () {
  const path = usePath()
  const { nav, page } = route(path)
  useEffect(() => { window.scrollTo(0, 0) }, [path])
  const item = (name: string, to: string, label: string) => (
    <li className={nav === name ? 'active' : ''}><Link to={to}>{label}</Link></li>
  )
  return (
    <>
      <header className='top'>
        <Link to='/' className='brand'>nsqadmin</Link>
        <ul>
          {item('topics', '/', 'Topics')}
          {item('nodes', '/nodes', 'Nodes')}
          {item('counter', '/counter', 'Counter')}
          {item('lookup', '/lookup', 'Lookup')}
        </ul>
        <span className='version'>v{config.version}</span>
      </header>
      <main>
        <ActionHost key={path}>{page}</ActionHost>
      </main>
    </>
  )
}

createRoot(document.getElementById('root') as HTMLElement).render(<StrictMode><App /></StrictMode>)

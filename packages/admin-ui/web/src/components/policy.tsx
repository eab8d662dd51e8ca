import { useEffect, useState } from 'react'
import type { ChannelPolicy, TopicPolicy } from '@nsqts/protocol'
import { config, usePoll } from '../api'
import { POLL_MS } from '../polling'
import { ActionButton } from './action'
import { Banner, Loading } from './notices'
import { StatsRow, type Stat } from './stats-row'
import { TableHead } from './table'

/** One setting of a delivery policy, named as nsqd's query parameter (docs/policies.md). */
export interface PolicyField {
  key: string
  label: string
  /** count: a whole number, 0 = off; text: '' = off; choice: one of `choices`. */
  kind: 'count' | 'text' | 'choice'
  choices?: string[]
  placeholder?: string
}

export const CHANNEL_POLICY_FIELDS: PolicyField[] = [
  { key: 'max_attempts', label: 'Max attempts', kind: 'count' },
  { key: 'dead_letter_topic', label: 'Dead-letter topic', kind: 'text' },
  { key: 'ttl', label: 'TTL', kind: 'text', placeholder: 'e.g. 30s, 1h' },
  { key: 'ttl_action', label: 'TTL action', kind: 'choice', choices: ['drop', 'dead-letter'] },
  { key: 'max_depth', label: 'Max depth', kind: 'count' },
  { key: 'overflow', label: 'Overflow', kind: 'choice', choices: ['drop-oldest', 'dead-letter'] },
]

export const TOPIC_POLICY_FIELDS: PolicyField[] = [
  { key: 'ttl', label: 'TTL', kind: 'text', placeholder: 'e.g. 30s, 1h' },
  { key: 'max_depth', label: 'Max depth', kind: 'count' },
  { key: 'overflow', label: 'Overflow', kind: 'choice', choices: ['reject', 'drop-oldest'] },
]

type Policy = ChannelPolicy | TopicPolicy
type Draft = Record<string, string>

/** `policy` is null on an nsqd without delivery policies (NSQ's own). */
interface PolicyAnswer { nodes: Array<{ node: string, policy: Policy | null }>, message: string }

const valueOf = (policy: Policy, key: string): string | number | undefined =>
  (policy as unknown as Record<string, string | number | undefined>)[key]

/** 0 and '' switch a setting off. */
function shown (value: string | number | undefined): string {
  return value === undefined || value === 0 || value === '' ? 'off' : String(value)
}

function draftOf (policy: Policy, fields: PolicyField[]): Draft {
  return Object.fromEntries(fields.map((f) => [f.key, String(valueOf(policy, f.key) ?? '')]))
}

/** The fields the draft changes, in nsqd's types; an emptied count is 0 (off). */
function changes (draft: Draft, policy: Policy, fields: PolicyField[]): Record<string, string | number> {
  const out: Record<string, string | number> = {}
  for (const f of fields) {
    const v = draft[f.key] ?? ''
    if (v === String(valueOf(policy, f.key) ?? '')) continue
    out[f.key] = f.kind === 'count' ? (v.trim() === '' ? 0 : Number(v)) : v
  }
  return out
}

/**
 * A topic's or channel's delivery policy on each node that has it, its counts, and (for admins) a form that sets it
 * on every such node. `path` is the /api policy path, `what` names the target in the confirmation.
 */
export function DeliveryPolicy ({ path, what, fields, counts }: {
  path: string
  what: string
  fields: PolicyField[]
  counts: Stat[]
}) {
  const p = usePoll<PolicyAnswer>(path, POLL_MS)
  const nodes = p.data?.nodes
  const current = nodes?.find((n) => n.policy !== null)?.policy ?? undefined
  const [draft, setDraft] = useState<Draft>()
  useEffect(() => {
    if (draft === undefined && current !== undefined) setDraft(draftOf(current, fields))
  }, [draft, current, fields])
  const change = current !== undefined && draft !== undefined ? changes(draft, current, fields) : {}
  const described = Object.entries(change).map(([k, v]) => `${k}=${v === '' ? '(off)' : v}`).join(', ')
  return (
    <>
      <h2>Delivery policy</h2>
      <StatsRow stats={counts} />
      <Banner error={p.error} message={p.data?.message} />
      {nodes === undefined && p.error === undefined && <Loading />}
      {nodes !== undefined && (
        <div className='table-wrap'>
          <table data-testid='policy'>
            <TableHead columns={['Node', ...fields.map((f) => f.label)]} />
            <tbody>
              {nodes.map(({ node, policy }) => (
                <tr key={node}>
                  <td>{node}</td>
                  {policy === null
                    ? <td colSpan={fields.length} className='muted'>this nsqd has no delivery policies</td>
                    : fields.map((f) => <td key={f.key} data-field={f.key}>{shown(valueOf(policy, f.key))}</td>)}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {config.isAdmin && draft !== undefined && (
        <div className='policy-form' data-testid='policy-form'>
          {fields.map((f) => (
            <label key={f.key}>
              {f.label}
              {f.kind === 'choice'
                ? (
                  <select value={draft[f.key]} onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })}>
                    {(f.choices ?? []).map((c) => <option key={c} value={c}>{c}</option>)}
                  </select>
                  )
                : (
                  <input
                    type={f.kind === 'count' ? 'number' : 'text'} min={f.kind === 'count' ? 0 : undefined}
                    placeholder={f.placeholder ?? 'off'} value={draft[f.key]}
                    onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })}
                  />
                  )}
            </label>
          ))}
          <ActionButton
            label='Save policy'
            question={described === ''
              ? `Nothing changed in the delivery policy of ${what}. Send it anyway?`
              : `Set ${described} on ${what} on every node that has it?`}
            request={{ path, method: 'POST', body: change }} success={`Delivery policy of ${what} set`}
            after={p.reload}
          />
        </div>
      )}
    </>
  )
}

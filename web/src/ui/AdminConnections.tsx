// The admins' connection list: every live real-time connection of every
// node, with a way to disconnect one (its session stays signed in; the
// client may connect again). docs/api.md "Administration".
import { useEffect, useState } from 'preact/hooks'
import { api, q } from '../api/http'
import { humanError } from '../api/errors'
import type { ConnectionInfo, ConnectionsResponse } from '../api/types.gen'
import { connectionId, toast } from '../state/store'
import { describeAgent, fullTime, statusLabel } from './common'

export function AdminConnections() {
  const [list, setList] = useState<ConnectionInfo[] | null>(null)
  const [next, setNext] = useState('')
  const [missing, setMissing] = useState<string[]>([])
  const [err, setErr] = useState('')
  const load = async (cursor = '') => {
    setErr('')
    try {
      const r = await api<ConnectionsResponse>('GET', '/api/v1/admin/connections' + q({ cursor, limit: 200 }))
      setList((l) => (cursor ? [...(l ?? []), ...r.connections] : r.connections))
      setNext(r.next_cursor ?? '')
      setMissing(r.unreachable_nodes)
    } catch (x) {
      setErr(humanError(x))
    }
  }
  useEffect(() => void load(), [])
  const disconnect = async (c: ConnectionInfo) => {
    setErr('')
    try {
      await api('DELETE', `/api/v1/admin/connections/${c.id}`)
      toast(`Disconnected @${c.username}'s ${describeAgent(c.user_agent)}.`, 'info')
      await load()
    } catch (x) {
      setErr(humanError(x))
    }
  }
  return (
    <div class="stack">
      <h2>Connections</h2>
      <p class="muted">
        Live real-time connections on every node. Disconnecting one does not sign its user out: their app connects again on its own. To end a
        session, sign the user out under Users.
      </p>
      {err && (
        <p class="error-text" role="alert">
          {err}
        </p>
      )}
      {missing.length > 0 && (
        <p class="error-text" role="status">
          {missing.length === 1 ? 'One node' : `${missing.length} nodes`} did not answer in time; their connections are not listed.
        </p>
      )}
      <div class="row">
        <button class="btn small" onClick={() => void load()}>
          Refresh
        </button>
        {list && (
          <span class="muted" role="status">
            {list.length} connection{list.length === 1 ? '' : 's'}
          </span>
        )}
      </div>
      <table class="admin-table" aria-label="Connections">
        <thead>
          <tr>
            <th scope="col">User</th>
            <th scope="col">Client</th>
            <th scope="col">Node</th>
            <th scope="col">Connected</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {list?.map((c) => (
            <tr key={c.id}>
              <td>
                <strong>@{c.username}</strong>
                {c.id === connectionId.value && (
                  <>
                    {' '}
                    <span class="badge soft" style={{ background: 'var(--accent-soft)', color: 'var(--accent)' }}>
                      This tab
                    </span>
                  </>
                )}
              </td>
              <td title={c.user_agent}>
                {describeAgent(c.user_agent)} <span class="muted">{c.ip}</span>
              </td>
              <td>
                <code title={c.node_id}>{c.node_id.slice(0, 8)}</code>
              </td>
              <td>{fullTime(c.since)}</td>
              <td>{statusLabel(c.status)}</td>
              <td>
                <button class="btn small" onClick={() => void disconnect(c)} aria-label={`Disconnect @${c.username} (${describeAgent(c.user_agent)}, ${c.id.slice(-8)})`}>
                  Disconnect
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {list?.length === 0 && <p class="muted">No live connections.</p>}
      {next && (
        <button class="btn" onClick={() => void load(next)}>
          Show more
        </button>
      )}
    </div>
  )
}

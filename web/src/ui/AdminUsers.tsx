// The admins' user screen: every account, its role, disabling and
// enabling it, and signing it out everywhere (docs/api.md "Administration").
import { useEffect, useState } from 'preact/hooks'
import { api, q } from '../api/http'
import { humanError } from '../api/errors'
import type { User, UsersResponse } from '../api/types.gen'
import { me, toast } from '../state/store'

export function AdminUsers() {
  const [users, setUsers] = useState<User[]>([])
  const [next, setNext] = useState('')
  const [err, setErr] = useState('')
  const load = async (cursor = '') => {
    try {
      const r = await api<UsersResponse & { next_cursor?: string }>('GET', '/api/v1/admin/users' + q({ cursor, limit: 100 }))
      setUsers((u) => (cursor ? [...u, ...r.users] : r.users))
      setNext(r.next_cursor ?? '')
    } catch (x) {
      setErr(humanError(x))
    }
  }
  useEffect(() => void load(), [])
  const update = async (u: User, change: { role?: string; disabled?: boolean }) => {
    setErr('')
    try {
      const r = await api<{ user: User }>('PATCH', `/api/v1/admin/users/${u.id}`, change)
      setUsers((list) => list.map((x) => (x.id === u.id ? r.user : x)))
      toast(`@${u.username} updated.`, 'info')
    } catch (x) {
      setErr(humanError(x))
    }
  }
  const signOut = async (u: User) => {
    setErr('')
    try {
      const r = await api<{ revoked: number }>('DELETE', `/api/v1/admin/users/${u.id}/sessions`)
      toast(`@${u.username} signed out of ${r.revoked} session${r.revoked === 1 ? '' : 's'}.`, 'info')
    } catch (x) {
      setErr(humanError(x))
    }
  }
  return (
    <div class="stack">
      <h2>Users</h2>
      <p class="muted">
        Guests see only the channels they are added to and may message only the people they share one with. Disabling an account signs it out at
        once.
      </p>
      {err && <p class="error-text">{err}</p>}
      <table class="admin-table" aria-label="Users">
        <thead>
          <tr>
            <th scope="col">User</th>
            <th scope="col">Role</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.id}>
              <td>
                <strong>{u.display_name || u.username}</strong> <span class="muted">@{u.username}</span>
              </td>
              <td>
                <select
                  aria-label={`Role of ${u.username}`}
                  value={u.role}
                  disabled={u.id === me.value?.id}
                  onChange={(e) => void update(u, { role: e.currentTarget.value })}
                >
                  <option value="admin">Admin</option>
                  <option value="member">Member</option>
                  <option value="guest">Guest</option>
                </select>
              </td>
              <td>{u.disabled ? 'Disabled' : 'Active'}</td>
              <td class="row">
                {u.id !== me.value?.id && (
                  <button class="btn small" onClick={() => void update(u, { disabled: !u.disabled })}>
                    {u.disabled ? 'Enable' : 'Disable'}
                  </button>
                )}
                <button class="btn small" onClick={() => void signOut(u)} aria-label={`Sign @${u.username} out everywhere`}>
                  Sign out everywhere
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {next && (
        <button class="btn" onClick={() => void load(next)}>
          Show more
        </button>
      )}
    </div>
  )
}

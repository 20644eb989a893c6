// The admins' user screen: every account, its role, disabling and
// enabling it, signing it out everywhere, and deleting it
// (docs/api.md "Administration").
import { useEffect, useState } from 'preact/hooks'
import { api, q } from '../api/http'
import { humanError } from '../api/errors'
import type { AdminDeleteUserResponse, DeleteMode, User, UsersResponse } from '../api/types.gen'
import { DELETED_USER, me, rememberUsers, toast } from '../state/store'
import { Modal } from './common'

export function AdminUsers() {
  const [users, setUsers] = useState<User[]>([])
  const [next, setNext] = useState('')
  const [err, setErr] = useState('')
  const [deleting, setDeleting] = useState<User | null>(null)
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
  const deleted = (old: User, r: AdminDeleteUserResponse) => {
    setUsers((list) => list.map((x) => (x.id === old.id ? r.user : x)))
    rememberUsers([r.user])
    setDeleting(null)
    const what =
      r.mode === 'erase'
        ? `${r.messages} message${r.messages === 1 ? '' : 's'} ${r.pending ? 'are being erased' : 'erased'}`
        : `${r.messages} message${r.messages === 1 ? '' : 's'} kept, shown as “${DELETED_USER}”`
    toast(`@${old.username} deleted: ${what}.`, 'info')
  }
  return (
    <div class="stack">
      <h2>Users</h2>
      <p class="muted">
        Guests see only the channels they are added to and may message only the people they share one with. Disabling an account signs it out at
        once; deleting it removes it for good.
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
          {users.map((u) =>
            u.deleted ? (
              <tr key={u.id} class="deleted-user">
                <td class="nowrap">
                  <em>{DELETED_USER}</em>
                </td>
                <td />
                <td>Deleted</td>
                <td />
              </tr>
            ) : (
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
                <td>
                  <div class="row">
                    {u.id !== me.value?.id && (
                      <button class="btn small" onClick={() => void update(u, { disabled: !u.disabled })}>
                        {u.disabled ? 'Enable' : 'Disable'}
                      </button>
                    )}
                    <button class="btn small" onClick={() => void signOut(u)} aria-label={`Sign @${u.username} out everywhere`}>
                      Sign out everywhere
                    </button>
                    {u.id !== me.value?.id && (
                      <button class="btn small danger" onClick={() => setDeleting(u)} aria-label={`Delete @${u.username}`}>
                        Delete
                      </button>
                    )}
                  </div>
                </td>
              </tr>
            ),
          )}
        </tbody>
      </table>
      {next && (
        <button class="btn" onClick={() => void load(next)}>
          Show more
        </button>
      )}
      {deleting && <DeleteUserDialog u={deleting} onClose={() => setDeleting(null)} onDeleted={(r) => deleted(deleting, r)} />}
    </div>
  )
}

function DeleteUserDialog({ u, onClose, onDeleted }: { u: User; onClose: () => void; onDeleted: (r: AdminDeleteUserResponse) => void }) {
  const [mode, setMode] = useState<DeleteMode | ''>('')
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState('')
  const name = u.display_name || u.username
  const submit = async (e: Event) => {
    e.preventDefault()
    if (!mode) return
    setBusy(true)
    setErr('')
    try {
      onDeleted(await api<AdminDeleteUserResponse>('DELETE', `/api/v1/admin/users/${u.id}`, { mode }))
    } catch (x) {
      setErr(humanError(x))
      setBusy(false)
    }
  }
  return (
    <Modal title={`Delete @${u.username}?`} onClose={onClose}>
      <form class="stack" onSubmit={submit} aria-label={`Delete @${u.username}`}>
        <p>
          {name}’s account goes for good: they are signed out everywhere, cannot sign in again and leave every channel. Their username becomes free
          for someone else. This cannot be undone.
        </p>
        <fieldset class="stack">
          <legend>Their messages</legend>
          <label class="row">
            <input type="radio" name="mode" value="anonymise" checked={mode === 'anonymise'} onChange={() => setMode('anonymise')} />
            <span>
              <strong>Anonymise (keep messages)</strong> <span class="muted">— their messages stay, shown as “{DELETED_USER}”</span>
            </span>
          </label>
          <label class="row">
            <input type="radio" name="mode" value="erase" checked={mode === 'erase'} onChange={() => setMode('erase')} />
            <span>
              <strong>Erase (delete their messages)</strong> <span class="muted">— every message they sent is deleted for everyone, with its reactions and history</span>
            </span>
          </label>
        </fieldset>
        {err && (
          <p class="error-text" role="alert">
            {err}
          </p>
        )}
        <div class="row">
          <span class="grow" />
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button class="btn danger" type="submit" disabled={busy || !mode}>
            Delete account
          </button>
        </div>
      </form>
    </Modal>
  )
}

// The admins' audit screen: the latest entries of the tamper-evident log
// and a check of its whole hash chain and signed checkpoints (docs/audit.md).
import { useEffect, useState } from 'preact/hooks'
import { api, q } from '../api/http'
import { humanError } from '../api/errors'
import type { AuditEntriesResponse, Entry, Report } from '../api/types.gen'
import { fullTime } from './common'

export function AuditLog() {
  const [entries, setEntries] = useState<Entry[] | null>(null)
  const [report, setReport] = useState<Report | null>(null)
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState('')
  useEffect(() => {
    const since = new Date(Date.now() - 7 * 86400_000).toISOString().replace(/\.\d+Z$/, 'Z')
    api<AuditEntriesResponse>('GET', '/api/v1/admin/audit' + q({ since, limit: 200 }))
      .then((r) => setEntries(r.entries.slice().reverse()))
      .catch((x) => setErr(humanError(x)))
  }, [])
  const verify = async () => {
    setBusy(true)
    setErr('')
    try {
      setReport(await api<Report>('GET', '/api/v1/admin/audit/verify'))
    } catch (x) {
      setErr(humanError(x))
    } finally {
      setBusy(false)
    }
  }
  return (
    <div class="stack">
      <h2>Audit log</h2>
      <p class="muted">
        Every security-relevant action, chained by hash and signed at checkpoints: an edited, deleted or reordered entry is found by a check.
      </p>
      {err && <p class="error-text">{err}</p>}
      <div class="row">
        <button class="btn primary" onClick={verify} disabled={busy}>
          {busy ? 'Checking…' : 'Check the chain'}
        </button>
        {report && (
          <p role="status" class={report.ok ? '' : 'error-text'}>
            {report.ok
              ? `Intact: ${report.checked} entries, ${report.checkpoints} signed checkpoint${report.checkpoints === 1 ? '' : 's'}.` +
                (report.pruned_through ? ` Entries 1–${report.pruned_through} were removed by audit retention; the check starts from their signed anchor.` : '')
              : `Broken at entry ${report.first_bad?.seq}: ${report.first_bad?.reason}.`}
          </p>
        )}
      </div>
      <table class="admin-table" aria-label="Audit entries">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">When</th>
            <th scope="col">Action</th>
            <th scope="col">Who</th>
            <th scope="col">What</th>
            <th scope="col">Result</th>
          </tr>
        </thead>
        <tbody>
          {entries?.map((e) => (
            <tr key={e.seq}>
              <td>{e.seq}</td>
              <td>{fullTime(e.time)}</td>
              <td>
                <code>{e.action}</code>
              </td>
              <td>{e.actor_id ? `${e.actor_type} ${e.actor_id.slice(0, 8)}` : e.actor_type}</td>
              <td>{e.target_type ? `${e.target_type} ${(e.target_id ?? '').slice(0, 8)}` : ''}</td>
              <td>
                {e.result}
                {e.reason ? ` (${e.reason})` : ''}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {entries?.length === 0 && <p class="muted">No entries in the last seven days.</p>}
    </div>
  )
}

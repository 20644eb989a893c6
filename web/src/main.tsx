import { render } from 'preact'
import './ui/styles.css'
import { App } from './ui/App'
import { applyTheme } from './ui/theme'
import { boot, ssoError, toast } from './state/store'
import { takeSsoResult } from './api/sso'

applyTheme()
// The single sign-on callback reports its outcome in the URL: read it
// before the router sees the URL, then boot signs in from the cookie.
const sso = takeSsoResult()
if (sso.error) ssoError.value = sso.error
if (sso.ok === 'linked') toast('Sign-in linked to your account.', 'info')
void boot()
render(<App />, document.getElementById('app')!)

// The service worker caches the application shell (never API data), so the
// installed app opens offline and starts fast.
if ('serviceWorker' in navigator && location.protocol !== 'file:' && import.meta.env.PROD) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {
      /* the app works without it */
    })
  })
}

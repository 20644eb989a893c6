import { render } from 'preact'
import './ui/styles.css'
import { App } from './ui/App'
import { applyTheme } from './ui/theme'
import { boot } from './state/store'

applyTheme()
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

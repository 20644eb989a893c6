// Unhidra's service worker: it caches the application shell (the page, its
// hashed scripts and styles, the icons) so the installed app opens fast and
// offline. It never caches API data: /api/ and the operational endpoints
// always go to the network, untouched.
const SHELL = 'unhidra-shell-v1'
const STATIC = ['/', '/manifest.webmanifest', '/icon.svg', '/icon-192.png', '/icon-512.png']
const BYPASS = ['/api/', '/healthz', '/readyz', '/metrics', '/.well-known/']

function assetsOf(html) {
  return Array.from(new Set(html.match(/\/assets\/[A-Za-z0-9._-]+/g) || []))
}

async function refreshShell(cache) {
  const res = await fetch('/', { cache: 'no-cache' })
  if (!res.ok) return
  const html = await res.clone().text()
  await cache.put('/', res)
  const wanted = assetsOf(html)
  await Promise.all(wanted.map(async (a) => (await cache.match(a)) || cache.add(a).catch(() => {})))
  // Forget the hashed files of earlier builds once they pile up (chunks
  // loaded on demand are not named in the page, so they are kept until then
  // and fetched again when next needed).
  const old = (await cache.keys()).filter((r) => {
    const p = new URL(r.url).pathname
    return p.startsWith('/assets/') && !wanted.includes(p)
  })
  if (old.length > 40) await Promise.all(old.map((r) => cache.delete(r)))
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL)
      await cache.addAll(STATIC.filter((p) => p !== '/'))
      await refreshShell(cache)
      await self.skipWaiting()
    })(),
  )
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const k of await caches.keys()) if (k !== SHELL) await caches.delete(k)
      await self.clients.claim()
    })(),
  )
})

self.addEventListener('fetch', (event) => {
  const req = event.request
  if (req.method !== 'GET') return
  const url = new URL(req.url)
  if (url.origin !== self.location.origin) return
  if (BYPASS.some((p) => url.pathname === p || url.pathname.startsWith(p))) return

  if (url.pathname.startsWith('/assets/')) {
    // hashed names never change: cache first
    event.respondWith(
      (async () => {
        const cache = await caches.open(SHELL)
        const hit = await cache.match(url.pathname)
        if (hit) return hit
        const res = await fetch(req)
        if (res.ok) await cache.put(url.pathname, res.clone())
        return res
      })(),
    )
    return
  }

  if (req.mode === 'navigate') {
    // the page: network first (so a new version shows at once), the cached shell offline
    event.respondWith(
      (async () => {
        const cache = await caches.open(SHELL)
        try {
          const res = await fetch(req)
          if (res.ok && res.headers.get('content-type')?.includes('text/html')) {
            event.waitUntil(refreshShell(cache).catch(() => {}))
          }
          return res
        } catch {
          return (await cache.match('/')) || Response.error()
        }
      })(),
    )
    return
  }

  if (STATIC.includes(url.pathname)) {
    event.respondWith(
      (async () => {
        const cache = await caches.open(SHELL)
        const hit = await cache.match(url.pathname)
        const net = fetch(req)
          .then((res) => {
            if (res.ok) cache.put(url.pathname, res.clone())
            return res
          })
          .catch(() => hit)
        return hit || net
      })(),
    )
  }
})

self.addEventListener('notificationclick', (event) => {
  event.notification.close()
  event.waitUntil(
    (async () => {
      const all = await self.clients.matchAll({ type: 'window' })
      if (all[0]) return all[0].focus()
      return self.clients.openWindow('/')
    })(),
  )
})

/* Balagh portal service worker, served at /sw.js so its scope is the whole site.
 *
 * - /static/…      cache first (answer at once), refreshed from the network in
 *                  the background so a changed file is used from the next load on
 * - page loads     network first; offline: the cached copy of that page, else
 *                  the cached new-report page of the same language
 * - anything else  untouched (network only): POSTs, /api/, /ivr/, /open311/,
 *                  the place links' pages (/{lang}/place/…)…
 *
 * Bump CACHE when the shell list changes; old caches are deleted on activate.
 */
'use strict';

const CACHE = 'balagh-portal-v1';
const CACHE_PREFIX = 'balagh-portal-';

const SHELL_PAGES = ['/ar/', '/en/', '/ar/report/new', '/en/report/new'];
const SHELL = [
  '/static/portal/portal.css',
  '/static/portal/portal.js',
  '/static/portal/vendor/leaflet/leaflet.js',
  '/static/portal/vendor/leaflet/leaflet.css',
  '/static/portal/vendor/leaflet/images/marker-icon.png',
  '/static/portal/vendor/leaflet/images/marker-icon-2x.png',
  '/static/portal/vendor/leaflet/images/marker-shadow.png',
  '/static/portal/icons/icon-192.png',
  '/static/portal/icons/icon-512.png',
  '/manifest.webmanifest',
  ...SHELL_PAGES,
];

// Responses from these paths are never cached, whatever else this file says. A place link's
// page (/{lang}/place/{token}) carries a secret token: it is neither stored nor answered from
// the cache (offline, the browser says so instead of showing another page).
const NEVER_CACHE = /^\/(api|ivr|open311)(\/|$)|^\/[a-z]{2}\/place(\/|$)/;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      // One add per URL: a single missing file must not fail the whole install.
      .then((cache) => Promise.all(SHELL.map((url) => cache.add(url).catch(() => undefined))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names.filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE).map((name) => caches.delete(name)),
      );
      // Lets page loads start their network request while the worker boots.
      if (self.registration.navigationPreload) {
        await self.registration.navigationPreload.enable().catch(() => undefined);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (NEVER_CACHE.test(url.pathname)) {
    // Not ours to answer; just let an already started preload settle quietly.
    if (request.mode === 'navigate' && event.preloadResponse) event.waitUntil(event.preloadResponse.catch(() => undefined));
    return;
  }

  if (url.pathname.startsWith('/static/')) {
    event.respondWith(staticFirst(event, request));
  } else if (request.mode === 'navigate') {
    event.respondWith(pageNetworkFirst(event, request, url));
  } else if (url.pathname === '/manifest.webmanifest') {
    event.respondWith(fetch(request).catch(() => cachedOrError(request)));
  }
  // Everything else: no respondWith, the browser goes to the network itself.
});

/** Only complete, same-origin, successful answers are worth keeping. */
function cacheable(response) {
  return response && response.status === 200 && response.type === 'basic';
}

async function staticFirst(event, request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  const refresh = fetch(request).then((response) => {
    if (cacheable(response)) return cache.put(request, response.clone()).then(() => response);
    return response;
  });
  if (cached) {
    // Keep the worker alive until the background refresh is stored.
    event.waitUntil(refresh.catch(() => undefined));
    return cached;
  }
  return refresh;
}

async function pageNetworkFirst(event, request, url) {
  try {
    const response = (await event.preloadResponse) || (await fetch(request));
    // Refresh the stored shell pages (with their newer CSRF token); other pages
    // may hold personal data and are not stored.
    if (SHELL_PAGES.includes(url.pathname) && !url.search && cacheable(response) && !response.redirected) {
      const copy = response.clone();
      event.waitUntil(caches.open(CACHE).then((cache) => cache.put(url.pathname, copy)).catch(() => undefined));
    }
    return response;
  } catch (_) {
    const cache = await caches.open(CACHE);
    const page = (await cache.match(request, { ignoreSearch: true })) || (await cache.match(fallbackPage(url.pathname)));
    return page ? navigable(page) : Response.error();
  }
}

/** The new-report page in the language of the requested path. */
function fallbackPage(pathname) {
  const lang = /^\/(ar|en)(\/|$)/.exec(pathname);
  return '/' + (lang ? lang[1] : 'ar') + '/report/new';
}

/** A navigation may not be answered with a response that was redirected: copy it. */
async function navigable(response) {
  if (!response.redirected) return response;
  const body = await response.blob();
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

async function cachedOrError(request) {
  const cache = await caches.open(CACHE);
  return (await cache.match(request)) || Response.error();
}

/* Balagh citizen portal: progressive enhancement only.
 *
 * Every page works without this file. Each feature looks for its own elements
 * and returns quietly when they are absent, and each runs inside its own
 * try/catch so one failing feature never stops the others.
 * This file holds no user-facing text: all texts come from data-msg-*
 * attributes rendered by the server in the page's language.
 */
(function () {
  'use strict';

  // Shared across re-runs of this script in the same window: after a
  // document.write() of a server response the window (and its IndexedDB
  // connection, its listeners) stays, but this script runs again.
  // document.open() also erases the window's listeners, so they are re-added on
  // every run; reusing the same function objects keeps them from doubling.
  const shared = window.__balaghPortal || (window.__balaghPortal = {
    flushing: false, // a draft flush is in progress: never post drafts twice at once
    flush: null,     // the latest run's flushDrafts
    onOnline: () => safely('drafts', shared.flush),
    onPageShow: (event) => {
      if (event.persisted && navigator.onLine !== false) safely('drafts', shared.flush);
    },
  });

  const DB_NAME = 'balagh';
  const DB_STORE = 'drafts';
  const LEAFLET_IMAGES = '/static/portal/vendor/leaflet/images/';
  const MAX_PHOTO_SIDE = 1600;
  const JPEG_QUALITY = 0.85;

  /* ------------------------------------------------------------------ */
  /* Small helpers                                                        */
  /* ------------------------------------------------------------------ */

  function byId(id) {
    return document.getElementById(id);
  }

  /** Runs one feature; a thrown error or rejected promise is logged, not propagated. */
  function safely(name, feature) {
    try {
      const result = feature();
      if (result && typeof result.catch === 'function') {
        result.catch((error) => logError(name, error));
      }
    } catch (error) {
      logError(name, error);
    }
  }

  function logError(name, error) {
    if (window.console && console.error) console.error('[balagh:' + name + ']', error);
  }

  /** Text of data-msg-<name> on the first element that has it. */
  function message(name, ...elements) {
    const key = 'msg' + name.replace(/-([a-z])/g, (_, c) => c.toUpperCase()).replace(/^./, (c) => c.toUpperCase());
    for (const el of elements) {
      if (el && el.dataset && el.dataset[key]) return el.dataset[key];
    }
    return '';
  }

  /** Replaces {name} placeholders (the server leaves them literal in the text). */
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  }

  function setText(el, text) {
    if (el) el.textContent = text || '';
  }

  function toNumber(value) {
    if (value === null || value === undefined || String(value).trim() === '') return NaN;
    return Number(value);
  }

  /** Resolves a URL attribute against the page; null for anything not on this origin. */
  function sameOriginUrl(value) {
    try {
      const url = new URL(value, document.baseURI);
      return url.origin === location.origin ? url : null;
    } catch (_) {
      return null;
    }
  }

  /** A fresh idempotency key: the page may come from the service worker's cache. */
  function newIdempotencyKey() {
    const c = window.crypto;
    if (c && typeof c.randomUUID === 'function') return c.randomUUID(); // secure contexts only
    if (c && typeof c.getRandomValues === 'function') {
      const bytes = c.getRandomValues(new Uint8Array(16));
      return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    }
    return null;
  }

  /* ------------------------------------------------------------------ */
  /* a. Service worker                                                    */
  /* ------------------------------------------------------------------ */

  function registerServiceWorker() {
    if (!('serviceWorker' in navigator)) return;
    const register = () => {
      navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((error) => logError('sw', error));
    };
    // After 'load' so the worker's precaching does not compete with the first page.
    if (document.readyState === 'complete') register();
    else window.addEventListener('load', register, { once: true });
  }

  /* ------------------------------------------------------------------ */
  /* b. Service search                                                    */
  /* ------------------------------------------------------------------ */

  // Arabic tashkeel (U+064B–U+065F), superscript alef (U+0670) and tatweel (U+0640)
  // are optional in writing, so they must not decide a match.
  const ARABIC_MARKS = /[\u064B-\u065F\u0670\u0640]/g;

  function normaliseSearchText(text) {
    return String(text || '')
      .toLowerCase()
      .replace(ARABIC_MARKS, '')
      .replace(/[أإآ]/g, 'ا')
      .replace(/ة/g, 'ه')
      .replace(/ى/g, 'ي');
  }

  function initServiceSearch() {
    const input = byId('service-search');
    const list = byId('service-list');
    if (!input || !list) return;
    const none = byId('service-none');
    const labels = Array.from(list.querySelectorAll('label.service'));
    // Normalise each card's words once instead of on every keystroke.
    const words = new Map(labels.map((label) => [label, normaliseSearchText(label.dataset.words)]));

    function filter() {
      const terms = normaliseSearchText(input.value).split(/\s+/).filter(Boolean);
      let shown = 0;
      for (const label of labels) {
        const haystack = words.get(label);
        const match = terms.every((term) => haystack.includes(term));
        label.hidden = !match;
        if (match) shown += 1;
      }
      if (none) none.hidden = shown > 0;
    }

    input.addEventListener('input', filter);
    // Enter in the search box must not submit the whole report form.
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') event.preventDefault();
    });
    // form.reset() empties the box without an 'input' event.
    if (input.form) input.form.addEventListener('reset', () => setTimeout(filter, 0));
    filter(); // the browser may have restored a typed value
  }

  /* ------------------------------------------------------------------ */
  /* c/d. Maps                                                            */
  /* ------------------------------------------------------------------ */

  function leaflet() {
    const L = window.L;
    if (!L || typeof L.map !== 'function') return null; // vendor script failed: page works without maps
    L.Icon.Default.imagePath = LEAFLET_IMAGES;
    return L;
  }

  /** Creates a map with its tile layer from data-tiles/attribution/lat/lon/zoom. */
  function createBaseMap(L, el) {
    const lat = toNumber(el.dataset.lat);
    const lon = toNumber(el.dataset.lon);
    const zoom = toNumber(el.dataset.zoom);
    const map = L.map(el).setView(
      [Number.isFinite(lat) ? lat : 0, Number.isFinite(lon) ? lon : 0],
      Number.isFinite(zoom) ? zoom : 12,
    );
    if (el.dataset.tiles) {
      L.tileLayer(el.dataset.tiles, { attribution: el.dataset.attribution || '', maxZoom: 19 }).addTo(map);
    }
    return map;
  }

  function initReportMap() {
    const el = byId('map');
    const latInput = byId('lat');
    const lonInput = byId('lon');
    if (!el || !latInput || !lonInput) return;
    const L = leaflet();
    if (!L) return;

    const map = createBaseMap(L, el);
    let marker = null;
    // The map works: the typed coordinates offered without JavaScript give way to the pin.
    for (const fallback of document.querySelectorAll('[data-map-fallback]')) fallback.hidden = true;

    function writeInputs(latlng) {
      const wrapped = latlng.wrap(); // a click on a repeated world copy is still -180..180
      latInput.value = wrapped.lat.toFixed(6);
      lonInput.value = wrapped.lng.toFixed(6);
      latInput.dispatchEvent(new Event('change', { bubbles: true }));
      lonInput.dispatchEvent(new Event('change', { bubbles: true }));
    }

    function placeMarker(latlng) {
      if (marker) {
        marker.setLatLng(latlng);
      } else {
        marker = L.marker(latlng, { draggable: true, autoPan: true }).addTo(map);
        marker.on('dragend', () => writeInputs(marker.getLatLng()));
      }
      writeInputs(marker.getLatLng());
    }

    function clearMarker() {
      if (marker) map.removeLayer(marker);
      marker = null;
      latInput.value = '';
      lonInput.value = '';
    }

    map.on('click', (event) => placeMarker(event.latlng));
    // Keyboard users: Enter on the focused map drops the pin at its centre.
    map.on('keypress', (event) => {
      const key = event.originalEvent && event.originalEvent.key;
      if (key === 'Enter') placeMarker(map.getCenter());
    });

    // The form was re-rendered after an error: show the pin that was chosen.
    const lat = toNumber(latInput.value);
    const lon = toNumber(lonInput.value);
    if (Number.isFinite(lat) && Number.isFinite(lon)) {
      placeMarker(L.latLng(lat, lon));
      map.setView([lat, lon], Math.max(map.getZoom(), 16));
    }

    // A reset form (after a draft was saved) starts without a pin.
    if (latInput.form) latInput.form.addEventListener('reset', clearMarker);

    initLocateButton(map, placeMarker);
  }

  function initLocateButton(map, placeMarker) {
    const button = byId('locate');
    if (!button || !navigator.geolocation) return;
    const status = byId('locate-status');
    button.hidden = false;
    button.addEventListener('click', (event) => {
      event.preventDefault(); // it may sit in the form without type="button"
      button.disabled = true;
      setText(status, '');
      navigator.geolocation.getCurrentPosition(
        (position) => {
          button.disabled = false;
          const latlng = [position.coords.latitude, position.coords.longitude];
          placeMarker(latlng);
          map.setView(latlng, Math.max(map.getZoom(), 17));
        },
        () => {
          button.disabled = false;
          setText(status, message('locate-failed', button));
        },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
      );
    });
  }

  /** "Reports near me" (home page): the server sorts the open reports by distance from where the
   *  phone is; this only supplies the coordinates. Without geolocation the button stays hidden. */
  function initNearMe() {
    const button = byId('near-me');
    if (!button || !navigator.geolocation) return;
    button.hidden = false;
    button.addEventListener('click', (event) => {
      event.preventDefault();
      button.disabled = true;
      navigator.geolocation.getCurrentPosition(
        (position) => {
          const near = position.coords.latitude.toFixed(5) + ',' + position.coords.longitude.toFixed(5);
          window.location.assign(button.dataset.url + '?near=' + encodeURIComponent(near));
        },
        () => {
          button.disabled = false;
          setText(byId('near-me-status'), message('locate-failed', button));
        },
        { enableHighAccuracy: false, timeout: 15000, maximumAge: 300000 },
      );
    });
  }

  function initPublicMap() {
    const el = byId('public-map');
    if (!el) return;
    const L = leaflet();
    if (!L) return;
    const map = createBaseMap(L, el);
    const points = readReportPoints();
    const latlngs = [];
    for (const point of points) {
      const lat = toNumber(point.lat);
      const lon = toNumber(point.lon);
      if (!Number.isFinite(lat) || !Number.isFinite(lon)) continue;
      L.marker([lat, lon]).addTo(map).bindPopup(buildPopup(point));
      latlngs.push([lat, lon]);
    }
    if (latlngs.length) map.fitBounds(L.latLngBounds(latlngs), { padding: [24, 24], maxZoom: 16 });
  }

  function readReportPoints() {
    const script = byId('report-points');
    if (!script) return [];
    try {
      const data = JSON.parse(script.textContent || '[]');
      return Array.isArray(data) ? data : [];
    } catch (error) {
      logError('report-points', error);
      return [];
    }
  }

  /** Popup built from DOM nodes: the data is user-supplied, never parsed as HTML. */
  function buildPopup(point) {
    const box = document.createElement('div');
    box.dir = 'auto'; // the map box is ltr; the texts may be Arabic

    const title = document.createElement('p');
    const url = point.url ? sameOriginUrl(point.url) : null;
    const ticket = document.createElement(url ? 'a' : 'span');
    ticket.className = 'ticket';
    ticket.textContent = String(point.ticket || '');
    if (url) ticket.href = url.href;
    title.appendChild(ticket);
    box.appendChild(title);

    for (const value of [point.service, point.status]) {
      if (!value) continue;
      const line = document.createElement('p');
      line.dir = 'auto';
      line.textContent = String(value);
      box.appendChild(line);
    }
    return box;
  }

  /* ------------------------------------------------------------------ */
  /* e. Report form: photos, submit, offline drafts                       */
  /* ------------------------------------------------------------------ */

  function initReportForm() {
    const form = byId('report-form');
    if (!form || !window.fetch || !window.FormData) return;
    const keyInput = form.querySelector('input[name="idempotency_key"]');
    const photos = byId('photos');
    const photoStatus = byId('photo-status');
    const submit = byId('submit-report');
    const status = byId('draft-status');
    const maxPhotos = toNumber(form.dataset.maxPhotos) || 3;
    let busy = false;

    function renewKey() {
      const key = newIdempotencyKey();
      if (keyInput && key) keyInput.value = key;
    }

    function tooManyPhotos() {
      const count = photos && photos.files ? photos.files.length : 0;
      if (count <= maxPhotos) {
        setText(photoStatus, '');
        if (photos) photos.removeAttribute('aria-invalid');
        return false;
      }
      setText(photoStatus, fill(message('too-many-photos', form), { max: maxPhotos }));
      if (photos) photos.setAttribute('aria-invalid', 'true');
      return true;
    }

    function setBusy(value) {
      busy = value;
      if (submit) submit.disabled = value;
      form.setAttribute('aria-busy', String(value));
    }

    renewKey();
    if (photos) photos.addEventListener('change', tooManyPhotos);

    // Back/forward cache restores the page as it was when we navigated away:
    // a disabled button and an already used key.
    window.addEventListener('pageshow', (event) => {
      if (!event.persisted) return;
      renewKey();
      setBusy(false);
    });

    form.addEventListener('submit', (event) => {
      if (busy) {
        event.preventDefault();
        return;
      }
      if (tooManyPhotos()) {
        event.preventDefault();
        photos.focus();
        return;
      }
      event.preventDefault();
      setBusy(true);
      submitReport(form, event.submitter, status, photos).then(
        (keepBusy) => {
          if (!keepBusy) setBusy(false);
        },
        (error) => {
          logError('submit', error);
          setBusy(false);
        },
      );
    });

    form.addEventListener('reset', () => {
      setText(photoStatus, '');
      if (photos) photos.removeAttribute('aria-invalid');
    });

    /** After a draft is stored: an empty form with its own key for the next report. */
    form.addEventListener('balagh:draft-saved', () => {
      form.reset();
      renewKey();
    });
  }

  /**
   * Sends the report. Resolves true while the page is navigating away (keep the
   * button disabled), false when the form is usable again.
   */
  async function submitReport(form, submitter, status, photosInput) {
    let prepared;
    try {
      setText(status, message('sending', form, status));
      prepared = await prepareSubmission(form, submitter, photosInput);
    } catch (error) {
      // Our own preparation failed (not the network): let the browser send the
      // form as it would without JS rather than lose the report.
      logError('prepare', error);
      setText(status, '');
      HTMLFormElement.prototype.submit.call(form);
      return true;
    }

    if (navigator.onLine === false) return saveDraftAndReport(form, status, prepared);

    let response;
    try {
      response = await postForm(prepared.action, prepared.body);
    } catch (_) {
      return saveDraftAndReport(form, status, prepared); // network error
    }
    setText(status, '');

    const finalUrl = sameOriginUrl(response.url);
    if (finalUrl && (response.redirected || response.ok) && isReceivedPath(finalUrl.pathname)) {
      window.location.assign(finalUrl.href);
      return true;
    }
    if (finalUrl && response.redirected) {
      // Any other redirect after POST is a page meant to be loaded with GET;
      // loading it keeps the address bar right.
      window.location.assign(finalUrl.href);
      return true;
    }
    // 422 (form re-rendered with errors), 429, 5xx…: show exactly what the server said.
    const html = await response.text();
    document.open();
    document.write(html);
    document.close();
    return true;
  }

  function isReceivedPath(pathname) {
    return /\/received\//.test(pathname);
  }

  function formAction(form) {
    // form.action is shadowed if the form contains a field named "action".
    const url = sameOriginUrl(form.getAttribute('action') || location.href);
    return url ? url.href : location.href;
  }

  function postForm(action, body) {
    return fetch(action, {
      method: 'POST',
      body,
      credentials: 'same-origin',
      headers: { Accept: 'text/html' },
    });
  }

  /** Resizes the photos and builds everything needed to post or store the report. */
  async function prepareSubmission(form, submitter, photosInput) {
    const photoField = (photosInput && photosInput.name) || 'photo';
    const files = photosInput && photosInput.files ? Array.from(photosInput.files) : [];
    const photos = [];
    // One at a time: decoding several 12-megapixel photos at once can exhaust a phone.
    for (const file of files) photos.push(await preparePhoto(file));

    const fields = [];
    for (const [name, value] of new FormData(form).entries()) {
      if (typeof value === 'string') fields.push([name, value]);
    }
    // FormData(form) leaves out the button that submitted the form.
    if (submitter && submitter.name) fields.push([submitter.name, submitter.value || '']);

    const draft = {
      action: formAction(form),
      idempotency_key: valueOf(fields, 'idempotency_key') || newIdempotencyKey(),
      fields,
      photoField,
      photos,
      savedAt: Date.now(),
    };
    return { action: draft.action, body: buildBody(draft), draft };
  }

  function valueOf(fields, name) {
    const entry = fields.find(([key]) => key === name);
    return entry ? entry[1] : '';
  }

  /** Multipart body from stored fields and photos (used for live posts and drafts alike). */
  function buildBody(draft, overrides) {
    const body = new FormData();
    for (const [name, value] of draft.fields) {
      body.append(name, overrides && name in overrides ? overrides[name] : value);
    }
    for (const photo of draft.photos || []) {
      body.append(draft.photoField || 'photo', photo.blob, photo.name);
    }
    return body;
  }

  /**
   * Re-encodes a photo as JPEG with its longest side at most 1600 px. Besides
   * the smaller upload this drops EXIF data, including the GPS position. A photo
   * the browser cannot decode (HEIC on Chrome…) is kept as it is.
   */
  async function preparePhoto(file) {
    const original = { name: file.name || 'photo', type: file.type || 'application/octet-stream', blob: file };
    if (typeof window.createImageBitmap !== 'function') return original;
    let bitmap;
    try {
      bitmap = await decodeImage(file);
    } catch (_) {
      return original;
    }
    try {
      const scale = Math.min(1, MAX_PHOTO_SIDE / Math.max(bitmap.width, bitmap.height));
      const width = Math.max(1, Math.round(bitmap.width * scale));
      const height = Math.max(1, Math.round(bitmap.height * scale));
      const blob = await encodeJpeg(bitmap, width, height);
      if (!blob || blob.type !== 'image/jpeg') return original;
      return { name: jpegName(file.name), type: 'image/jpeg', blob };
    } catch (_) {
      return original;
    } finally {
      if (bitmap.close) bitmap.close();
    }
  }

  async function decodeImage(file) {
    try {
      // Apply the EXIF rotation now, since the re-encoded file will not carry it.
      return await createImageBitmap(file, { imageOrientation: 'from-image' });
    } catch (error) {
      if (error && error.name === 'TypeError') return createImageBitmap(file); // option not supported
      throw error;
    }
  }

  function drawPhoto(context, bitmap, width, height) {
    context.fillStyle = '#fff'; // JPEG has no transparency; keep PNG backgrounds white, not black
    context.fillRect(0, 0, width, height);
    context.imageSmoothingQuality = 'high';
    context.drawImage(bitmap, 0, 0, width, height);
  }

  function encodeJpeg(bitmap, width, height) {
    if (typeof OffscreenCanvas === 'function') {
      try {
        const canvas = new OffscreenCanvas(width, height);
        const context = canvas.getContext('2d');
        if (context && typeof canvas.convertToBlob === 'function') {
          drawPhoto(context, bitmap, width, height);
          return canvas.convertToBlob({ type: 'image/jpeg', quality: JPEG_QUALITY });
        }
      } catch (_) {
        // fall through to a DOM canvas
      }
    }
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    drawPhoto(canvas.getContext('2d'), bitmap, width, height);
    return new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', JPEG_QUALITY));
  }

  function jpegName(name) {
    const base = String(name || '').replace(/\.[^./\\]*$/, '') || 'photo';
    return base + '.jpg';
  }

  /* ------------------------------------------------------------------ */
  /* Drafts in IndexedDB                                                  */
  /* ------------------------------------------------------------------ */

  function openDrafts() {
    return new Promise((resolve, reject) => {
      if (!window.indexedDB) {
        reject(new Error('IndexedDB unavailable'));
        return;
      }
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(DB_STORE)) {
          request.result.createObjectStore(DB_STORE, { keyPath: 'idempotency_key' });
        }
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error('IndexedDB blocked'));
    });
  }

  /** Runs one request in its own transaction and resolves when that transaction commits. */
  async function withStore(mode, makeRequest) {
    const db = await openDrafts();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction(DB_STORE, mode);
        const request = makeRequest(tx.objectStore(DB_STORE));
        tx.oncomplete = () => resolve(request.result);
        tx.onerror = () => reject(tx.error || request.error);
        tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
      });
    } finally {
      db.close();
    }
  }

  function putDraft(draft) {
    return withStore('readwrite', (store) => store.put(draft));
  }

  function getAllDrafts() {
    return withStore('readonly', (store) => store.getAll());
  }

  function deleteDraft(key) {
    return withStore('readwrite', (store) => store.delete(key));
  }

  async function saveDraftAndReport(form, status, prepared) {
    try {
      await putDraft(prepared.draft);
    } catch (error) {
      // Nowhere to keep it (private mode, quota): hand the form to the browser.
      logError('draft', error);
      setText(status, '');
      HTMLFormElement.prototype.submit.call(form);
      return true;
    }
    setText(status, message('saved', form, status));
    form.dispatchEvent(new CustomEvent('balagh:draft-saved'));
    if (status && status.scrollIntoView) status.scrollIntoView({ block: 'nearest' });
    return false;
  }

  /** The freshest CSRF token this page knows, if any (drafts may be hours old). */
  function currentCsrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) return meta.content;
    const input = document.querySelector('form#report-form input[name="csrf"]');
    return input && input.value ? input.value : '';
  }

  /** Posts every stored draft; keeps those that fail for network/server reasons. */
  async function flushDrafts() {
    if (shared.flushing || navigator.onLine === false || !window.indexedDB || !window.fetch) return;
    shared.flushing = true;
    const status = byId('draft-status');
    const results = []; // DOM paragraphs to show when done
    let pending = false; // some draft is still waiting
    try {
      const drafts = await getAllDrafts();
      if (!drafts.length) return;
      drafts.sort((a, b) => (a.savedAt || 0) - (b.savedAt || 0)); // oldest first, as they were typed
      for (const draft of drafts) {
        setText(status, message('sending', status));
        const outcome = await sendDraft(draft, status);
        if (outcome.paragraph) results.push(outcome.paragraph);
        if (outcome.stop) {
          pending = true;
          break; // offline again or the server is struggling: try later
        }
      }
      if (status) {
        status.textContent = '';
        for (const p of results) status.appendChild(p);
        if (pending) status.appendChild(paragraph(message('saved', status)));
      }
    } finally {
      shared.flushing = false;
    }
  }

  async function sendDraft(draft, status) {
    const csrf = currentCsrfToken();
    const body = buildBody(draft, csrf ? { csrf } : null);
    const action = sameOriginUrl(draft.action);
    if (!action) {
      await deleteDraft(draft.idempotency_key); // corrupt record: never post it anywhere else
      return {};
    }
    let response;
    try {
      response = await postForm(action.href, body);
    } catch (_) {
      return { stop: true }; // network error: keep the draft
    }
    const finalUrl = sameOriginUrl(response.url);
    if (finalUrl && isReceivedPath(finalUrl.pathname)) {
      await deleteDraft(draft.idempotency_key);
      const ticket = finalUrl.pathname.split('/').filter(Boolean).pop() || '';
      return { paragraph: sentParagraph(message('sent', status), ticket, finalUrl.href) };
    }
    if (response.status === 429 || response.status >= 500) return { stop: true };
    // Rejected (4xx, or a page that is not the receipt): retrying would loop forever.
    await deleteDraft(draft.idempotency_key);
    return { paragraph: paragraph(message('failed', status)) };
  }

  function paragraph(text) {
    const p = document.createElement('p');
    p.textContent = text;
    return p;
  }

  /** data-msg-sent with {ticket} replaced by a link to the receipt page. */
  function sentParagraph(template, ticket, href) {
    const p = document.createElement('p');
    const link = document.createElement('a');
    link.href = href;
    link.className = 'ticket';
    link.textContent = ticket;
    const at = template.indexOf('{ticket}');
    if (at < 0) {
      p.append(template + ' ', link);
    } else {
      p.append(template.slice(0, at), link, template.slice(at + '{ticket}'.length));
    }
    return p;
  }

  function initDraftFlush() {
    shared.flush = flushDrafts;
    window.addEventListener('online', shared.onOnline);
    window.addEventListener('pageshow', shared.onPageShow); // restored from the back/forward cache
    if (navigator.onLine !== false) return flushDrafts();
    return showPendingDrafts();
  }

  /** Offline page load: remind that reports are waiting to be sent. */
  async function showPendingDrafts() {
    const status = byId('draft-status');
    if (!status || status.textContent || !window.indexedDB) return;
    const drafts = await getAllDrafts();
    if (drafts.length) setText(status, message('saved', status));
  }

  /* ------------------------------------------------------------------ */
  /* Start                                                                */
  /* ------------------------------------------------------------------ */

  function init() {
    safely('sw', registerServiceWorker);
    safely('service-search', initServiceSearch);
    safely('map', initReportMap);
    safely('public-map', initPublicMap);
    safely('near-me', initNearMe);
    safely('report-form', initReportForm);
    safely('drafts', initDraftFlush);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init, { once: true });
  } else {
    init();
  }
})();

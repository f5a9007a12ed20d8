// The jukebox radio page: live status over Server-Sent Events, the player, the queue and the
// library with requests. No framework and no build step. Every string that comes from the
// server is put in the page with textContent, never as HTML: a song's title may hold markup.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const el = {
    onAir: $('on-air'), format: $('format'), connection: $('connection'),
    cover: $('cover'), coverLetter: $('cover-letter'),
    nowTitle: $('now-title'), nowArtist: $('now-artist'), nowSep: $('now-sep'),
    nowAlbum: $('now-album'), nowEmpty: $('now-empty'),
    progress: $('progress'), progressFill: $('progress-fill'), elapsed: $('elapsed'), total: $('total'),
    player: $('player'), play: $('play'), playLabel: $('play-label'), playHint: $('play-hint'),
    mute: $('mute'), volume: $('volume'),
    queue: $('queue'), queueEmpty: $('queue-empty'), queueCount: $('queue-count'),
    library: $('library'), libraryEmpty: $('library-empty'), libraryCount: $('library-count'),
    search: $('search'),
    listeners: $('listeners'), listenersLabel: $('listeners-label'), uptime: $('uptime'),
    serverName: $('server-name'), streamUrl: $('stream-url'), copyUrl: $('copy-url'),
    toasts: $('toasts'),
  };

  // ---- Formatting -------------------------------------------------------------------------

  /** 83 000 ms → "1:23"; an hour or more → "1:02:03". */
  function clock(ms) {
    if (!Number.isFinite(ms) || ms < 0) ms = 0;
    const s = Math.floor(ms / 1000);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = String(s % 60).padStart(2, '0');
    return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
  }

  /** Seconds → "45 s", "12 min", "3 h 05 min", "2 d 4 h". */
  function duration(s) {
    s = Math.max(0, Math.floor(s));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min`;
    const h = Math.floor(m / 60);
    if (h < 24) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
    return `${Math.floor(h / 24)} d ${h % 24} h`;
  }

  /** Lower case without accents, for search: "Café" and "CAFE" both become "cafe". */
  function fold(text) {
    return String(text ?? '').normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
  }

  /** A hue from 0 to 359 that a string always gets: the colour of its cover tile. */
  function hueOf(text) {
    let h = 0;
    for (const c of String(text)) h = (h * 31 + c.codePointAt(0)) >>> 0;
    return h % 360;
  }

  /** Sets a node's text only when it changes: a screen reader hears a live region's news once. */
  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  const str = (v) => (typeof v === 'string' ? v : v == null ? '' : String(v));

  /** An element with a class and text (as text, never HTML). */
  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  // ---- Toasts -----------------------------------------------------------------------------

  const MAX_TOASTS = 4;

  /** Shows `message` for a few seconds; kind is "ok", "error" or "info". */
  function toast(message, kind = 'info') {
    const box = make('div', `toast toast-${kind}`);
    if (kind === 'error') box.setAttribute('role', 'alert');
    box.append(make('p', 'toast-text', str(message)));
    const close = make('button', 'toast-close', '×');
    close.type = 'button';
    close.setAttribute('aria-label', 'Dismiss');
    box.append(close);
    const remove = () => {
      box.classList.add('leaving');
      setTimeout(() => box.remove(), 200);
    };
    close.addEventListener('click', remove);
    el.toasts.append(box);
    while (el.toasts.children.length > MAX_TOASTS) el.toasts.firstElementChild.remove();
    setTimeout(remove, kind === 'error' ? 8000 : 5000);
  }

  // ---- Status -----------------------------------------------------------------------------

  let status = null;          // the last status received
  let statusAt = 0;           // performance.now() when it arrived
  let nowId = null;           // the id on the air, to notice a change of song
  let listenUrl = '/radio';

  function applyStatus(s) {
    if (!s || typeof s !== 'object') return;
    status = s;
    statusAt = performance.now();

    const station = s.station || {};
    const onAir = !!station.on_air;
    setText(el.onAir, onAir ? 'On air' : 'Off air');
    el.onAir.className = `badge ${onAir ? 'badge-on' : 'badge-off'}`;
    const fmt = [];
    if (station.bitrate_kbps) fmt.push(`${station.bitrate_kbps} kbps`);
    if (station.sample_rate) fmt.push(`${(station.sample_rate / 1000).toLocaleString('en', { maximumFractionDigits: 1 })} kHz`);
    el.format.textContent = fmt.join(' · ');
    if (typeof station.listen_url === 'string' && station.listen_url) {
      listenUrl = station.listen_url;
      el.streamUrl.textContent = new URL(listenUrl, location.href).href;
    }

    renderNow(s.now);
    renderQueue(Array.isArray(s.queue) ? s.queue : []);
    updateButtons();

    const l = s.listeners || {};
    const total = Number(l.total) || 0;
    el.listeners.textContent = String(total);
    el.listenersLabel.textContent = total === 1 ? 'listener' : 'listeners';
    el.listeners.parentElement.title = `${Number(l.http) || 0} on the web, ${Number(l.native) || 0} in the jukebox app`;
    el.serverName.textContent = str(s.server);
    tick();

    if (typeof s.songs === 'number') libraryMayHaveChanged(s.songs);
  }

  function renderNow(now) {
    const has = !!(now && typeof now === 'object');
    el.nowEmpty.hidden = has;
    el.nowTitle.hidden = !has;
    el.nowSep.hidden = !(has && now.artist && now.album);
    setText(el.nowTitle, has ? str(now.title) : '');
    setText(el.nowArtist, has ? str(now.artist) : '');
    setText(el.nowAlbum, has ? str(now.album) : '');
    const id = has ? now.id : null;
    if (id !== nowId) {
      nowId = id;
      const title = has ? str(now.title) : '';
      el.coverLetter.textContent = (Array.from(title.trim())[0] || '♪').toUpperCase();
      el.cover.style.setProperty('--hue', String(hueOf(has ? str(now.album) || title : '')));
      document.title = has ? `${title}${now.artist ? ` – ${str(now.artist)}` : ''} · jukebox radio` : 'jukebox radio';
      if ('mediaSession' in navigator && typeof MediaMetadata === 'function') {
        try {
          navigator.mediaSession.metadata = has
            ? new MediaMetadata({ title, artist: str(now.artist), album: str(now.album) })
            : null;
        } catch (_) { /* an old browser */ }
      }
    }
  }

  let shownFraction = 0;

  /** Sets the bar's length: it glides forward between ticks, and jumps back (a new song). */
  function setFill(fraction) {
    const back = fraction < shownFraction;
    if (back) el.progressFill.style.transition = 'none';
    el.progressFill.style.transform = `scaleX(${fraction})`;
    if (back) {
      void el.progressFill.offsetWidth;  // apply it now, before the transition comes back
      el.progressFill.style.transition = '';
    }
    shownFraction = fraction;
  }

  /** Moves the progress bar and the uptime on from the last status; runs every 250 ms. */
  function tick() {
    if (!status) return;
    const since = performance.now() - statusAt;
    const now = status.now;
    const onAir = !!(status.station && status.station.on_air);
    if (now && Number(now.duration_ms) > 0) {
      const total = Number(now.duration_ms);
      const elapsed = Math.min(total, (Number(now.elapsed_ms) || 0) + (onAir ? since : 0));
      const fraction = elapsed / total;
      setFill(fraction);
      el.progress.setAttribute('aria-valuenow', String(Math.round(fraction * 100)));
      el.progress.setAttribute('aria-valuetext', `${clock(elapsed)} of ${clock(total)}`);
      el.elapsed.textContent = clock(elapsed);
      el.total.textContent = clock(total);
    } else {
      setFill(0);
      el.progress.setAttribute('aria-valuenow', '0');
      el.progress.removeAttribute('aria-valuetext');
      el.elapsed.textContent = '0:00';
      el.total.textContent = now ? '–:––' : '0:00';
    }
    el.uptime.textContent = duration((Number(status.uptime_s) || 0) + since / 1000);
  }
  setInterval(tick, 250);

  function renderQueue(queue) {
    const items = queue.map((entry, i) => {
      const li = make('li', entry.mine ? 'song mine' : 'song');
      li.dataset.id = str(entry.id);
      li.append(make('span', 'num', String(i + 1)));
      const text = make('span', 'song-text');
      text.append(make('span', 'title', str(entry.title)), make('span', 'artist', str(entry.artist)));
      li.append(text);
      if (entry.mine) {
        const badge = make('span', 'badge badge-mine', 'Yours');
        badge.title = 'You asked for this one';
        li.append(badge);
      }
      li.append(make('span', 'dur', clock(Number(entry.duration_ms))));
      return li;
    });
    el.queue.replaceChildren(...items);
    el.queueEmpty.hidden = queue.length > 0;
    el.queue.hidden = queue.length === 0;
    const mine = queue.filter((e) => e.mine).length;
    el.queueCount.textContent = queue.length === 0 ? ''
      : `${queue.length} ${queue.length === 1 ? 'song' : 'songs'}${mine ? `, ${mine} yours` : ''}`;
  }

  // ---- Library and requests ---------------------------------------------------------------

  let rows = [];              // {id, li, button, haystack}
  let libraryLength = null;   // songs in the last library fetched
  let askedFor = null;        // the status.songs that last made us fetch it
  let fetching = false;
  let fetchAgain = false;
  const pending = new Set();  // ids whose POST is under way
  const recent = new Map();   // id → when its request was accepted (until the status shows it)

  function libraryMayHaveChanged(songs) {
    if (songs !== libraryLength && songs !== askedFor) {
      askedFor = songs;
      loadLibrary();
    }
  }

  async function loadLibrary() {
    if (fetching) { fetchAgain = true; return; }
    fetching = true;
    try {
      const response = await fetch('/library.json', { headers: { Accept: 'application/json' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const songs = await response.json();
      if (Array.isArray(songs)) renderLibrary(songs);
    } catch (err) {
      el.libraryEmpty.hidden = false;
      el.libraryEmpty.textContent = 'The library could not be loaded; it will be tried again when the server sends news.';
      askedFor = null;
      console.warn('library.json:', err);
    } finally {
      fetching = false;
      if (fetchAgain) { fetchAgain = false; loadLibrary(); }
    }
  }

  function renderLibrary(songs) {
    libraryLength = songs.length;
    rows = songs.map((song) => {
      const id = song.id;
      const li = make('li', 'song');
      li.dataset.id = str(id);
      const text = make('span', 'song-text');
      const meta = make('span', 'artist', str(song.artist));
      if (song.album) meta.append(make('span', 'album', ` · ${str(song.album)}`));
      text.append(make('span', 'title', str(song.title)), meta);
      const button = make('button', 'request', 'Request');
      button.type = 'button';
      button.dataset.id = str(id);
      button.setAttribute('aria-label', `Request ${str(song.title)}`);
      button.addEventListener('click', () => request(id, str(song.title)));
      li.append(text, make('span', 'dur', clock(Number(song.duration_ms))), button);
      return { id, li, button, haystack: fold(`${str(song.title)} ${str(song.artist)} ${str(song.album)}`) };
    });
    el.library.replaceChildren(...rows.map((r) => r.li));
    filter();
    updateButtons();
  }

  function filter() {
    const terms = fold(el.search.value).split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const row of rows) {
      const match = terms.every((t) => row.haystack.includes(t));
      row.li.hidden = !match;
      if (match) shown += 1;
    }
    const total = rows.length;
    setText(el.libraryCount, terms.length ? `${shown} of ${total}` : `${total} ${total === 1 ? 'song' : 'songs'}`);
    el.library.hidden = shown === 0;
    el.libraryEmpty.hidden = shown > 0;
    if (shown === 0) {
      el.libraryEmpty.textContent = total === 0
        ? 'The library is empty. Songs appear here as the server finds them.'
        : `No song matches “${el.search.value.trim()}”.`;
    }
  }

  /** Disables Request for the song on the air, the songs queued, and requests under way. */
  function updateButtons() {
    const queued = new Set((status && Array.isArray(status.queue) ? status.queue : []).map((e) => e.id));
    const onAir = status && status.now ? status.now.id : null;
    const t = performance.now();
    for (const [id, at] of recent) if (queued.has(id) || t - at > 3000) recent.delete(id);
    for (const row of rows) {
      let label = 'Request';
      if (row.id === onAir) label = 'On air';
      else if (queued.has(row.id) || recent.has(row.id)) label = 'Queued';
      else if (pending.has(row.id)) label = 'Sending…';
      row.button.disabled = label !== 'Request';
      if (row.button.textContent !== label) row.button.textContent = label;
      row.li.classList.toggle('on-air', row.id === onAir);
      row.li.classList.toggle('queued', label === 'Queued');
    }
  }

  async function request(id, title) {
    if (pending.has(id)) return;
    pending.add(id);
    updateButtons();
    try {
      const response = await fetch(`/request/${encodeURIComponent(id)}`, {
        method: 'POST',
        headers: { Accept: 'application/json' },
      });
      let body = null;
      try { body = await response.json(); } catch (_) { /* not JSON */ }
      const ok = response.ok && !(body && body.ok === false);
      const message = body && typeof body.message === 'string' && body.message
        ? body.message
        : ok ? `${title} is in the queue` : `The request for ${title} failed (HTTP ${response.status})`;
      toast(message, ok ? 'ok' : 'error');
      if (ok) {
        recent.set(id, performance.now());
        setTimeout(updateButtons, 3100);
      }
    } catch (err) {
      toast(`Could not reach the server to request ${title}; try again.`, 'error');
    } finally {
      pending.delete(id);
      updateButtons();
    }
  }

  el.search.addEventListener('input', filter);
  el.search.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && el.search.value) { el.search.value = ''; filter(); }
  });
  document.addEventListener('keydown', (e) => {
    const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
    if (e.key === '/' && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      el.search.focus();
    }
  });

  // ---- Player -----------------------------------------------------------------------------

  const player = el.player;
  let stopping = false;       // a pause that we asked for: its events are no error

  function setPlayState(state) {
    document.body.dataset.play = state;  // "stopped", "loading" or "playing"
    const playing = state !== 'stopped';
    el.play.setAttribute('aria-pressed', String(playing));
    el.play.setAttribute('aria-label', playing ? 'Pause the radio' : 'Play the radio');
    el.playLabel.textContent = state === 'playing' ? 'Listening live' : state === 'loading' ? 'Tuning in…' : 'Listen live';
    el.playHint.textContent = state === 'playing' ? 'Press pause to stop' : state === 'loading' ? 'Buffering the stream' : 'Press play to tune in';
  }

  async function start() {
    stopping = false;
    // After a stop the element has no source: set it again, so that play starts at the live
    // point rather than where the buffer was left.
    if (!player.getAttribute('src')) player.src = listenUrl;
    setPlayState('loading');
    try {
      await player.play();
    } catch (err) {
      if (err && err.name === 'AbortError') return;  // paused again before it started
      setPlayState('stopped');
      toast(err && err.name === 'NotAllowedError'
        ? 'The browser did not let the radio play; press play again.'
        : 'The stream could not be played.', 'error');
    }
  }

  function stop() {
    stopping = true;
    player.pause();
    // Stop downloading: a live stream is not resumed from a stale buffer.
    player.removeAttribute('src');
    player.load();
    setPlayState('stopped');
  }

  el.play.addEventListener('click', () => (player.paused ? start() : stop()));
  player.addEventListener('playing', () => setPlayState('playing'));
  player.addEventListener('waiting', () => { if (!player.paused) setPlayState('loading'); });
  player.addEventListener('pause', () => { if (!stopping) setPlayState('stopped'); });
  player.addEventListener('ended', () => {
    setPlayState('stopped');
    player.removeAttribute('src');
    toast('The stream ended; press play to tune in again.', 'info');
  });
  player.addEventListener('error', () => {
    if (stopping || !player.getAttribute('src')) return;
    setPlayState('stopped');
    player.removeAttribute('src');
    toast('The stream was interrupted; press play to tune in again.', 'error');
  });

  if ('mediaSession' in navigator) {
    try {
      navigator.mediaSession.setActionHandler('play', () => start());
      navigator.mediaSession.setActionHandler('pause', () => stop());
    } catch (_) { /* unsupported action */ }
  }

  // Volume, remembered between visits.
  function showVolume() {
    const level = player.muted ? 0 : player.volume;
    el.volume.style.setProperty('--level', `${level * 100}%`);
    el.volume.setAttribute('aria-valuetext', player.muted ? 'muted' : `${Math.round(player.volume * 100)} %`);
    el.mute.setAttribute('aria-pressed', String(player.muted));
    el.mute.setAttribute('aria-label', player.muted ? 'Unmute' : 'Mute');
    el.mute.classList.toggle('muted', player.muted || player.volume === 0);
  }
  try {
    const saved = parseFloat(localStorage.getItem('jukebox.volume'));
    if (saved >= 0 && saved <= 1) el.volume.value = String(saved);
  } catch (_) { /* storage disabled */ }
  player.volume = parseFloat(el.volume.value);
  el.volume.addEventListener('input', () => {
    player.volume = parseFloat(el.volume.value);
    if (player.volume > 0) player.muted = false;
    try { localStorage.setItem('jukebox.volume', String(player.volume)); } catch (_) { /* ignore */ }
  });
  el.mute.addEventListener('click', () => { player.muted = !player.muted; });
  player.addEventListener('volumechange', showVolume);
  showVolume();
  setPlayState('stopped');

  // ---- Footer -----------------------------------------------------------------------------

  el.streamUrl.textContent = new URL(listenUrl, location.href).href;
  el.copyUrl.addEventListener('click', async () => {
    const url = el.streamUrl.textContent;
    try {
      await navigator.clipboard.writeText(url);
      toast('Stream address copied', 'ok');
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents(el.streamUrl);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      toast('Press Ctrl+C (⌘C) to copy the selected address', 'info');
    }
  });

  // ---- Live updates -----------------------------------------------------------------------

  let gotLiveStatus = false;
  let retryMs = 2000;

  function setConnected(connected) {
    el.connection.hidden = connected;
  }

  function connect() {
    const events = new EventSource('/events');
    events.addEventListener('open', () => {
      // Back after a break: the server may have restarted with other songs (ids and all).
      if (!el.connection.hidden) loadLibrary();
      setConnected(true);
      retryMs = 2000;
    });
    events.addEventListener('status', (e) => {
      setConnected(true);
      try {
        gotLiveStatus = true;
        applyStatus(JSON.parse(e.data));
      } catch (err) {
        console.warn('bad status event:', err);
      }
    });
    events.addEventListener('skipped', (e) => {
      try {
        const s = JSON.parse(e.data);
        const reason = str(s.reason);
        toast(`Skipped “${str(s.title) || `song ${str(s.id)}`}”${reason ? `: ${reason}` : ''}`, 'info');
      } catch (err) {
        console.warn('bad skipped event:', err);
      }
    });
    events.addEventListener('error', () => {
      setConnected(false);
      // EventSource reconnects by itself, except after an answer that is not an event stream
      // (a 5xx, a proxy's error page): then open a new one, a little later each time.
      if (events.readyState === EventSource.CLOSED) {
        events.close();
        setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 30000);
      }
    });
  }

  // The first status, in case the event stream takes a moment; live events win over it.
  fetch('/status.json', { headers: { Accept: 'application/json' } })
    .then((r) => (r.ok ? r.json() : null))
    .then((s) => { if (s && !gotLiveStatus) applyStatus(s); })
    .catch(() => {});
  loadLibrary();
  connect();
})();

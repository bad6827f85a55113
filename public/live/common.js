/**
 * Helpers shared by the attendee page (index.html) and the wall (wall.html).
 * Plain script: defines window.Live.
 */
(function () {
  'use strict';

  // The server HTML-escapes every string an action receives (docs/protocol.md#messages,
  // [outside] escape_html: & < > " ' become &amp; &lt; &gt; &quot; &#039;),
  // so message texts arrive as HTML source. We decode those five entities and
  // insert the result with textContent, never innerHTML: the page stays safe
  // whatever the server did (escape_html can be switched off, and fields
  // taken from the token, like nickname, are not escaped at all), and a user
  // who typed "<b>" sees "<b>", not "&lt;b&gt;". One pass, so "&amp;lt;"
  // decodes to the "&lt;" that was typed.
  const ENTITIES = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#039;': "'", '&#39;': "'", '&#x27;': "'" };
  function decode(s) {
    return String(s == null ? '' : s).replace(/&(?:amp|lt|gt|quot|#0?39|#x27);/g, (m) => ENTITIES[m]);
  }

  /** Size of a text once the server has escaped it, in UTF-8 bytes (the limit is on that). */
  function escapedBytes(s) {
    let n = new TextEncoder().encode(s).length;
    for (const ch of s) {
      if (ch === '&') n += 4;
      else if (ch === '<' || ch === '>') n += 3;
      else if (ch === '"' || ch === "'") n += 5;
    }
    return n;
  }

  /** Creates an element; `text` goes in as text, never as HTML. */
  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text != null) e.textContent = text;
    return e;
  }

  /** "14:05" for unix seconds. */
  function clock(unixSeconds) {
    const d = unixSeconds ? new Date(unixSeconds * 1000) : new Date();
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function timeEl(unixSeconds) {
    const t = el('time', null, clock(unixSeconds));
    if (unixSeconds) t.dateTime = new Date(unixSeconds * 1000).toISOString();
    return t;
  }

  /** The token from ?token=… (the invitation link). */
  function token() {
    return new URLSearchParams(location.search).get('token') || '';
  }

  /**
   * Keeps a connection indicator up to date: sets data-conn on <body> and the
   * label of `label`. `onGiveUp(why, info)` is called when the client stops
   * trying: why is 'refused' (the server said 403 to this token: final, info
   * is its reason), 'unreachable' (attempts never opened and nobody said why)
   * or 'closed' (it had been connected: kicked, or gave up reconnecting).
   */
  function watchConnection(client, label, onGiveUp) {
    let countdown = null;
    const show = (state, text) => {
      document.body.dataset.conn = state;
      label.textContent = text;
    };
    client.on('state', ({ state }) => {
      if (state === 'connecting') show('connecting', 'Connecting…');
      if (state === 'open') show('open', 'Live');
    });
    client.on('reconnecting', ({ delay }) => {
      clearInterval(countdown);
      const until = Date.now() + delay;
      const tick = () => {
        const s = Math.ceil((until - Date.now()) / 1000);
        if (client.state === 'reconnecting') show('reconnecting', s > 1 ? `Reconnecting in ${s} s` : 'Reconnecting…');
        else clearInterval(countdown);
      };
      tick();
      countdown = setInterval(tick, 1000);
    });
    client.on('authFailed', ({ status, info }) => {
      show('failed', status === 403 ? 'Link refused' : 'Cannot connect');
      onGiveUp && onGiveUp(status === 403 ? 'refused' : 'unreachable', info || '');
    });
    // Closed for good: gave up, kicked (4010), or the page called close().
    client.on('state', ({ state }) => {
      if (state !== 'closed' || document.body.dataset.conn === 'failed') return;
      show('offline', 'Offline');
      onGiveUp && onGiveUp('closed', '');
    });
    show('connecting', 'Connecting…');
  }

  /**
   * Shows a banner (#banner, #banner-text, #retry, #banner-link): `text`, a
   * "Try again" button when `retry`, and a link when `link` ({href, text}).
   * No text hides it.
   */
  function banner(text, retry, link) {
    const $ = (id) => document.getElementById(id);
    $('banner').hidden = !text;
    $('banner-text').textContent = text || '';
    $('retry').hidden = !retry;
    $('banner-link').hidden = !link;
    if (link) {
      $('banner-link').href = link.href;
      $('banner-link').textContent = link.text;
    }
  }

  /** What the banner says when the client stopped trying (watchConnection's why). */
  function givenUpText(why, info) {
    if (why === 'refused') return `This link's token was refused by the server (${info || 'invalid auth'}): the link is wrong or has expired. Ask for a new one.`;
    if (why === 'unreachable') return 'Could not connect. This link may be invalid or expired, or the server is down.';
    return 'Connection lost.';
  }

  /**
   * A message text clamped to a few lines (CSS: .clamped), with a "Show all"
   * button when it does not fit, so that one long message cannot push
   * everything else out of view. Call fitClamp once it is in the page.
   */
  function clampedText(text) {
    const wrap = el('div', 'clamp');
    const p = el('p', 'text clamped', text);
    const more = el('button', 'more', 'Show all');
    more.type = 'button';
    more.hidden = true;
    more.addEventListener('click', () => {
      const clamped = p.classList.toggle('clamped');
      more.textContent = clamped ? 'Show all' : 'Show less';
    });
    wrap.append(p, more);
    return wrap;
  }
  function fitClamp(wrap) {
    const p = wrap.querySelector('.text');
    wrap.querySelector('.more').hidden = !(p.scrollHeight > p.clientHeight + 1);
  }

  /** A short message at the bottom of the screen. */
  let toastTimer = null;
  function toast(text, kind) {
    let t = document.getElementById('toast');
    if (!t) {
      t = el('div', 'toast');
      t.id = 'toast';
      t.setAttribute('role', 'status');
      document.body.appendChild(t);
    }
    t.textContent = text;
    t.dataset.kind = kind || 'info';
    t.classList.add('show');
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => t.classList.remove('show'), 4000);
  }

  window.Live = {
    decode, escapedBytes, el, clock, timeEl, token, watchConnection, banner, givenUpText, clampedText, fitClamp, toast,
    MAX_CONTENT: 1000,
  };
})();

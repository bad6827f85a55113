/**
 * The attendee's page: join the room, read the wall's history, follow
 * approved messages and announcements live, send messages for moderation.
 * Protocol: docs/live.md. Texts are inserted with textContent only (common.js says why).
 */
(function () {
  'use strict';
  const { decode, el, timeEl, toast, escapedBytes, banner, givenUpText, MAX_CONTENT } = window.Live;
  const $ = (id) => document.getElementById(id);
  const PAGE = 50; // history entries per request

  const scroller = $('scroller');
  const feed = $('feed'); // approved messages and announcements, oldest first
  const mine = $('mine'); // own messages not approved (yet)
  const form = $('composer');
  const input = $('text');

  const shown = new Map(); // id -> element in the feed
  const ownIds = new Set(); // ids the server gave to messages sent from this page
  const waiting = new Map(); // id -> own message element waiting for moderation
  let historyReady = false; // false between a (re)connection and its history reply
  let early = []; // live items that came before that reply
  let loadedPages = 0;
  let total = 0;
  let client = null; // the MswClient, once there is a token
  let joinedRoom = false; // the composer works only in a room: what it sends would fail (or queue) otherwise

  // ---- the feed ----

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }
  function toBottom(smooth) {
    scroller.scrollTo({ top: scroller.scrollHeight, behavior: smooth ? 'smooth' : 'auto' });
    $('jump').hidden = true;
  }
  // "No messages yet" only once the history said so.
  function refreshEmpty() {
    $('empty').hidden = !historyReady || shown.size > 0 || mine.children.length > 0;
  }

  function itemEl(m) {
    const wall = m.kind === 'wall';
    const a = el('article', 'item ' + (wall ? 'announce' : 'msg'));
    a.dataset.id = m.id;
    const head = el('div', 'head');
    if (wall) head.append(el('span', 'badge', 'Announcement'));
    else head.append(el('span', 'who', ownIds.has(String(m.id)) ? 'You' : m.nickname || 'Guest'));
    head.append(timeEl(m.time));
    a.append(head, el('p', 'text', decode(m.content)));
    if (!wall && ownIds.has(String(m.id))) a.classList.add('mine');
    return a;
  }

  /**
   * Adds an approved message or announcement to the feed: 'live' (at the
   * end, animated, scrolled to), 'history' (at the end, quietly) or
   * 'earlier' (at the start).
   */
  function add(m, how) {
    const id = String(m.id);
    if (shown.has(id)) return;
    const stick = nearBottom();
    const node = itemEl(m);
    shown.set(id, node);
    if (how === 'earlier') feed.prepend(node);
    else feed.append(node);
    const w = waiting.get(id);
    if (w) {
      waiting.delete(id);
      w.remove();
    }
    refreshEmpty();
    if (how !== 'live') return;
    node.classList.add('fresh');
    if (stick || ownIds.has(id)) toBottom(true);
    else $('jump').hidden = false;
  }

  function remove(id) {
    const node = shown.get(String(id));
    if (!node) return;
    shown.delete(String(id));
    node.remove();
    refreshEmpty();
  }

  function clearFeed() {
    feed.replaceChildren();
    shown.clear();
    refreshEmpty();
  }

  // Live items go to the feed once the history is in place; before that they wait.
  function live(m) {
    if (historyReady) add(m, 'live');
    else early.push(m);
  }

  function showHistory(page) {
    clearFeed();
    for (const m of page.items || []) add(m, 'history');
    for (const m of early) add(m, 'history'); // came after the history was read: newer
    early = [];
    historyReady = true;
    refreshEmpty();
    loadedPages = 1;
    total = page.total || 0;
    $('earlier').hidden = total <= PAGE;
    toBottom(false);
  }

  async function loadEarlier() {
    const btn = $('earlier');
    btn.disabled = true;
    try {
      const r = await client.request('live.user.history', { page: loadedPages + 1, size: PAGE });
      const before = scroller.scrollHeight;
      const items = r.param.items || [];
      for (let i = items.length - 1; i >= 0; i--) add(items[i], 'earlier');
      scroller.scrollTop += scroller.scrollHeight - before; // keep the reader's place
      loadedPages++;
      btn.hidden = loadedPages * PAGE >= r.param.total;
    } catch (e) {
      toast('Could not load earlier messages: ' + (e.info || e.message), 'error');
    } finally {
      btn.disabled = false;
    }
  }

  // ---- own messages ----

  function ownEl(text) {
    const a = el('article', 'item msg mine pending');
    const head = el('div', 'head');
    head.append(el('span', 'who', 'You'), timeEl());
    const state = el('div', 'state', 'Sending…');
    a.append(head, el('p', 'text', text), state);
    a.setState = (cls, label) => {
      a.classList.remove('pending', 'failed', 'rejected');
      a.classList.add(cls);
      state.textContent = label;
    };
    return a;
  }

  async function say(text, node) {
    if (!node) {
      node = ownEl(text);
      mine.append(node);
      refreshEmpty();
      toBottom(true);
    }
    node.setState('pending', 'Sending…');
    node.onclick = null;
    try {
      const r = await client.request('live.user.say', { content: text });
      const id = String(r.param.id);
      ownIds.add(id);
      node.dataset.id = id;
      if (shown.has(id)) {
        // Approved before the reply reached us.
        node.remove();
        refreshEmpty();
        return;
      }
      waiting.set(id, node);
      node.setState('pending', 'Waiting for moderation');
    } catch (e) {
      node.setState('failed', 'Not sent (' + (e.info || e.message) + ') · tap to retry');
      node.onclick = () => say(text, node);
    }
  }

  function updateCounter() {
    const used = escapedBytes(input.value);
    const counter = $('counter');
    counter.hidden = used < MAX_CONTENT * 0.8;
    counter.textContent = String(MAX_CONTENT - used);
    counter.classList.toggle('over', used > MAX_CONTENT);
    $('send').disabled = !joinedRoom || used > MAX_CONTENT || !input.value.trim();
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 140) + 'px';
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text || escapedBytes(text) > MAX_CONTENT || !client || !joinedRoom) return;
    input.value = '';
    updateCounter();
    say(text);
    input.focus();
  });
  input.addEventListener('input', updateCounter);
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  scroller.addEventListener('scroll', () => {
    if (nearBottom()) $('jump').hidden = true;
  });
  $('jump').addEventListener('click', () => toBottom(true));
  $('earlier').addEventListener('click', loadEarlier);
  updateCounter();

  // ---- connection ----

  function setJoined(on, why) {
    joinedRoom = on;
    input.disabled = !on;
    input.placeholder = on ? 'Write a message…' : why || 'Connecting…';
    updateCounter();
  }

  // For good: no composer, no "say hello", only the banner (and the page's state for tests and CSS).
  function stop(state, text, link) {
    document.body.dataset.page = state;
    setJoined(false, '');
    form.hidden = true;
    historyReady = false;
    refreshEmpty();
    banner(text, false, link);
  }

  const token = Live.token();
  if (!token) {
    document.body.dataset.conn = 'failed';
    $('conn').textContent = 'No invitation';
    stop('no-token', 'This page needs an invitation link: …/live/index.html?token=…');
    return;
  }

  // Any path works for the socket; a relative one survives a reverse proxy's prefix.
  client = new MswClient('socket', { token });
  window.liveClient = client; // for the console and tests

  setJoined(false);
  client.on('close', () => setJoined(false, 'Reconnecting…'));
  Live.watchConnection(client, $('conn'), (why, info) => {
    if (why === 'refused') return stop('refused', givenUpText(why, info));
    setJoined(false, 'Offline');
    banner(givenUpText(why, info), true);
  });
  $('retry').addEventListener('click', () => {
    banner('');
    client.connect();
  });

  client.on('open', async () => {
    banner('');
    setJoined(false, 'Joining the room…');
    historyReady = false;
    early = [];
    try {
      const j = await client.request('live.user.join');
      $('room').textContent = j.param.code;
      document.title = 'Live · ' + j.param.code;
      $('online').textContent = j.param.online;
      setJoined(true);
      const h = await client.request('live.user.history', { page: 1, size: PAGE });
      showHistory(h.param);
    } catch (e) {
      if (!historyReady) {
        // No history this time: show what comes live at least.
        historyReady = true;
        for (const m of early) add(m, 'live');
        early = [];
      }
      if (e.status === 403) {
        // A wall (moderator) link opened here: the token is fine, the page is not.
        client.close();
        $('conn').textContent = 'Not an attendee link';
        stop('wrong-link', 'This is not an attendee link (' + (e.info || 'forbidden') + '). If it is a wall link, open it on the wall page.',
          { href: 'wall.html' + location.search, text: 'Open the wall' });
      } else if (e.code === 'server') {
        toast('Could not join: ' + (e.info || e.message), 'error');
      }
    }
  });

  client.on('userJoin', (p) => ($('online').textContent = p.online));
  client.on('userLeave', (p) => ($('online').textContent = p.online));
  client.on('userSayBroadcast', live);
  // A moderator turned one of ours down: say so instead of waiting forever.
  client.on('sayRejected', (p) => {
    const id = String(p.id);
    const node = waiting.get(id);
    if (!node) return;
    waiting.delete(id);
    node.setState('rejected', 'Not approved by the moderator');
  });
  client.on('wallSayBroadcast', live);
  client.on('wallSayRecall', (p) => {
    early = early.filter((m) => String(m.id) !== String(p.id));
    remove(p.id);
  });
  client.on('wallClean', () => {
    early = [];
    clearFeed();
    // The queue was emptied too: what waited for moderation will not come,
    // and what was turned down goes with the rest.
    for (const node of waiting.values()) node.remove();
    waiting.clear();
    for (const node of mine.querySelectorAll('.item.rejected')) node.remove();
    refreshEmpty();
    toast('The moderators cleared the wall');
  });
  client.on('serverBroadcast', (p, msg) => toast(msg.info)); // from the console: not escaped
  client.on('rateLimited', () => toast('Slow down a little…', 'error'));
})();

/**
 * The wall (a token of type "wall"): moderation queue, big-screen view,
 * announcements with recall, clean. Protocol: docs/live.md.
 * Texts are inserted with textContent only (common.js says why).
 */
(function () {
  'use strict';
  const { decode, el, timeEl, toast, escapedBytes, banner, givenUpText, clampedText, fitClamp, MAX_CONTENT } = window.Live;
  const $ = (id) => document.getElementById(id);
  const STREAM_KEEP = 150; // big-screen entries kept in the page

  const queue = new Map(); // id -> card waiting for a check
  const onScreen = new Map(); // id -> big-screen entry
  const announced = new Map(); // id -> announcement list entry
  let client = null;

  // ---- moderation queue ----

  function refreshQueue() {
    $('queue-count').textContent = queue.size;
    $('queue-empty').hidden = queue.size > 0;
    document.title = (queue.size ? `(${queue.size}) ` : '') + 'Live wall';
  }

  function addCard(m) {
    const id = String(m.id);
    if (queue.has(id)) return;
    const card = el('article', 'card');
    card.dataset.id = id;
    const head = el('header');
    head.append(el('span', 'who', m.nickname || 'Guest'), timeEl(m.time));
    const buttons = el('div', 'buttons');
    const approve = el('button', 'approve', 'Approve');
    const reject = el('button', 'reject', 'Reject');
    approve.type = reject.type = 'button';
    approve.addEventListener('click', () => check(id, 1, card));
    reject.addEventListener('click', () => check(id, 0, card));
    buttons.append(reject, approve);
    // Clamped: a 1,000-byte message must not push Approve/Reject out of view.
    const text = clampedText(decode(m.content));
    card.append(head, text, buttons);
    $('queue').append(card);
    fitClamp(text);
    queue.set(id, card);
    refreshQueue();
  }

  function removeCard(id) {
    const card = queue.get(String(id));
    if (!card) return;
    queue.delete(String(id));
    card.classList.add('leaving');
    setTimeout(() => card.remove(), 180);
    refreshQueue();
  }

  function clearQueue() {
    $('queue').replaceChildren();
    queue.clear();
    refreshQueue();
  }

  async function check(id, status, card) {
    card.classList.add('busy');
    card.querySelectorAll('button').forEach((b) => (b.disabled = true));
    try {
      await client.request('live.wall.check', { id: Number(id), status });
      removeCard(id);
    } catch (e) {
      if (e.status === 404) return removeCard(id); // another wall was faster
      card.classList.remove('busy');
      card.querySelectorAll('button').forEach((b) => (b.disabled = false));
      toast('Check failed: ' + (e.info || e.message), 'error');
    }
  }

  // ---- big screen ----

  function addToScreen(m) {
    const id = String(m.id);
    if (onScreen.has(id)) return;
    const wall = m.kind === 'wall';
    const entry = el('article', 'big ' + (wall ? 'announce' : 'msg'));
    entry.dataset.id = id;
    const head = el('div', 'head');
    head.append(wall ? el('span', 'label', 'Announcement') : el('span', 'who', m.nickname || 'Guest'), timeEl(m.time));
    const text = clampedText(decode(m.content));
    entry.append(head, text);
    const stream = $('stream');
    stream.append(entry);
    fitClamp(text);
    onScreen.set(id, entry);
    while (onScreen.size > STREAM_KEEP) {
      const [oldId, old] = onScreen.entries().next().value;
      onScreen.delete(oldId);
      old.remove();
    }
    $('screen-empty').hidden = true;
    stream.scrollTo({ top: stream.scrollHeight, behavior: 'smooth' });
  }

  function removeFromScreen(id) {
    const entry = onScreen.get(String(id));
    if (!entry) return;
    onScreen.delete(String(id));
    entry.remove();
    $('screen-empty').hidden = onScreen.size > 0;
  }

  function clearScreen() {
    $('stream').replaceChildren();
    onScreen.clear();
    $('screen-empty').hidden = false;
  }

  // ---- announcements ----

  function refreshAnnouncements() {
    $('announcements-empty').hidden = announced.size > 0;
  }

  function addAnnouncement(m, atEnd) {
    const id = String(m.id);
    if (announced.has(id)) return;
    const li = el('li');
    li.dataset.id = id;
    const body = el('div', 'body');
    body.append(el('p', 'text', decode(m.content)), timeEl(m.time));
    const recall = el('button', 'recall', 'Recall');
    recall.type = 'button';
    recall.addEventListener('click', async () => {
      recall.disabled = true;
      try {
        await client.request('live.wall.recall', { id: Number(id) });
        removeAnnouncement(id);
        removeFromScreen(id);
      } catch (e) {
        if (e.status === 404) {
          removeAnnouncement(id);
          removeFromScreen(id);
          return;
        }
        recall.disabled = false;
        toast('Recall failed: ' + (e.info || e.message), 'error');
      }
    });
    li.append(body, recall);
    const list = $('announcements');
    if (atEnd) list.append(li);
    else list.prepend(li); // newest first
    announced.set(id, li);
    refreshAnnouncements();
  }

  function removeAnnouncement(id) {
    const li = announced.get(String(id));
    if (!li) return;
    announced.delete(String(id));
    li.remove();
    refreshAnnouncements();
  }

  function clearAnnouncements() {
    $('announcements').replaceChildren();
    announced.clear();
    refreshAnnouncements();
  }

  const announceText = $('announce-text');
  function updateAnnounceCounter() {
    const used = escapedBytes(announceText.value);
    const c = $('announce-counter');
    c.textContent = used > MAX_CONTENT * 0.8 ? `${MAX_CONTENT - used} left` : '';
    c.classList.toggle('over', used > MAX_CONTENT);
    $('announce-send').disabled = !announceText.value.trim() || used > MAX_CONTENT;
  }
  announceText.addEventListener('input', updateAnnounceCounter);
  announceText.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) $('announce').requestSubmit();
  });
  $('announce').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = announceText.value.trim();
    if (!text || !client) return;
    $('announce-send').disabled = true;
    try {
      await client.request('live.wall.say', { content: text });
      announceText.value = ''; // the broadcast adds it to the list and the screen
    } catch (e) {
      toast('Not announced: ' + (e.info || e.message), 'error');
    } finally {
      updateAnnounceCounter();
    }
  });
  updateAnnounceCounter();

  // ---- clean, present ----

  $('clean').addEventListener('click', async () => {
    if (!client) return;
    if (!confirm('Clean the wall?\n\nEvery approved message, announcement and message waiting for moderation is removed, here and on the attendees\' phones.')) return;
    try {
      await client.request('live.wall.clean');
    } catch (e) {
      toast('Clean failed: ' + (e.info || e.message), 'error');
    }
  });

  function present(on) {
    document.body.classList.toggle('presenting', on);
    if (on && document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(() => {});
    if (!on && document.fullscreenElement) document.exitFullscreen().catch(() => {});
    const stream = $('stream');
    stream.scrollTop = stream.scrollHeight;
  }
  $('present').addEventListener('click', () => present(true));
  $('leave-present').addEventListener('click', () => present(false));
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && document.body.classList.contains('presenting')) present(false);
  });
  document.addEventListener('fullscreenchange', () => {
    if (!document.fullscreenElement && document.body.classList.contains('presenting')) present(false);
  });

  // ---- connection ----

  // For good: the controls go, the banner says why (the page's state is for tests and CSS).
  function stop(state, text, link) {
    document.body.dataset.page = state;
    banner(text, false, link);
  }

  const token = Live.token();
  if (!token) {
    document.body.dataset.conn = 'failed';
    $('conn').textContent = 'No token';
    stop('no-token', 'This page needs a wall link: …/live/wall.html?token=… (a token of type "wall").');
    return;
  }

  client = new MswClient('socket', { token });
  window.liveClient = client; // for the console and tests

  Live.watchConnection(client, $('conn'), (why, info) => {
    if (why === 'refused') stop('refused', givenUpText(why, info));
    else banner(givenUpText(why, info), true);
  });
  $('retry').addEventListener('click', () => {
    banner('');
    client.connect();
  });

  client.on('open', async () => {
    banner('');
    try {
      const j = await client.request('live.wall.join');
      $('room').textContent = j.param.code;
      $('online').textContent = j.param.online;
      // The join reply carries the first page of the queue: start from it
      // (also after a reconnect), then ask for the rest page by page.
      clearQueue();
      let page = j.param;
      for (;;) {
        const items = page.pending || [];
        for (const m of items) addCard(m);
        if (!page.more || items.length === 0) break;
        page = (await client.request('live.wall.pending', { after: items[items.length - 1].id })).param;
      }
      const h = await client.request('live.wall.history', { page: 1, size: 50 });
      clearAnnouncements();
      for (const m of h.param.items || []) addAnnouncement(m);
      // A fresh big screen starts with what the room has seen: approved
      // messages and announcements, oldest first.
      if (onScreen.size === 0) {
        const t = await client.request('live.wall.history', { list: 'timeline', page: 1, size: 50 });
        for (const m of t.param.items || []) addToScreen(m);
      }
    } catch (e) {
      if (e.status === 403) {
        // An attendee link opened here: the token is fine, the page is not.
        client.close();
        $('conn').textContent = 'Not a wall link';
        stop('wrong-link', 'This is not a wall link (' + (e.info || 'forbidden') + '). If it is an attendee link, open it on the attendee page.',
          { href: 'index.html' + location.search, text: 'Open the attendee page' });
      } else if (e.code === 'server') {
        toast('Could not join: ' + (e.info || e.message), 'error');
      }
    }
  });

  client.on('userJoin', (p) => ($('online').textContent = p.online));
  client.on('userLeave', (p) => ($('online').textContent = p.online));
  client.on('userSayNeedCheck', addCard);
  client.on('userSayChecked', (p) => removeCard(p.id));
  client.on('userSayBroadcast', addToScreen);
  client.on('wallSayBroadcast', (m) => {
    addToScreen(m);
    addAnnouncement(m);
  });
  client.on('wallSayRecall', (p) => {
    removeFromScreen(p.id);
    removeAnnouncement(p.id);
  });
  client.on('wallClean', () => {
    clearQueue();
    clearScreen();
    clearAnnouncements();
    toast('The wall was cleaned');
  });
  client.on('serverBroadcast', (p, msg) => toast(msg.info));
  client.on('rateLimited', () => toast('Too many actions at once: slow down', 'error'));

  refreshQueue();
  refreshAnnouncements();
})();

// The emulator's page: people, their conversations and the composer, on /emulator/api.
//
// Each person is a PSID made here; what they tap or type goes to POST /emulator/api/send, which
// signs a real webhook and posts it to the bot. What the bot sends comes back as the person's
// events, read by a long poll of their own (GET /emulator/api/events), so a person not shown
// keeps receiving: their events are drawn into their hidden thread and a badge counts them.

import { button, element, handoverText, renderMessage } from "./messages.js";

const API = "/emulator/api";
// Chrome opens 6 connections to a host: 4 long polls at most leave 2 for sends and taps. With
// more people than that, the polls of those not shown wait ROTATE_SECONDS at most (`wait`), so
// they take turns; the person shown never waits for a turn. No event is lost: each poll asks
// for everything after the last seq seen.
const MAX_POLLS = 4;
const ROTATE_SECONDS = 2;
const RETRY_MS = [500, 1000, 2000, 5000];
const TYPING_MS = 20000; // Messenger drops the typing bubble after 20 s without typing_off
// a pairing code, as runtime/access.py makes them: 8 of these characters
const PAIRING_CODE = /(^|[^A-Z0-9])[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{8}([^A-Z0-9]|$)/;
const FIRST_PERSON = "Ada Lovelace";

const $ = (id) => document.getElementById(id);
const state = {
  bot: null, // GET /emulator/api/bot, without ?locale
  profiles: new Map(), // locale ("" for none) -> Promise of { account id -> profile }
  people: [],
  current: null,
};

// ---------------------------------------------------------------- the server

async function api(path, body) {
  const response = await fetch(API + path, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  if (!response.ok) throw new Error(`${path}: ${await problem(response)}`);
  return response.json();
}

/** What a refused API request says: its `{"error": ...}`, else its status and first words. */
async function problem(response) {
  const text = await response.text();
  try {
    const error = JSON.parse(text).error;
    if (typeof error === "string") return error;
  } catch {
    // not JSON: a proxy's page, a crash
  }
  return `HTTP ${response.status} ${text.slice(0, 200)}`;
}

/** The accounts' profiles as a person of `locale` sees them (Meta picks greeting and menu by it). */
function profiles(locale) {
  if (!state.profiles.has(locale)) {
    const query = locale ? `?locale=${encodeURIComponent(locale)}` : "";
    const loading = api(`/bot${query}`).then(
      (bot) => new Map(bot.accounts.map((account) => [account.id, account.profile ?? {}])),
    );
    loading.catch(() => state.profiles.delete(locale)); // asked again next time
    state.profiles.set(locale, loading);
  }
  return state.profiles.get(locale);
}

function account(person) {
  return state.bot.accounts.find((candidate) => candidate.id === person.account);
}

/** The page's name as Messenger shows it; a config without `name` gets a stand-in. */
function pageName(page) {
  return page.name || (page.id === "default" ? "Your page" : `Page ${page.id}`);
}

// ---------------------------------------------------------------- people

function newPsid() {
  const digits = crypto.getRandomValues(new Uint8Array(15));
  return "7" + Array.from(digits, (byte) => byte % 10).join("");
}

async function addPerson(name, locale, accountId) {
  const [firstName, ...rest] = name.trim().split(/\s+/);
  const person = {
    psid: newPsid(),
    account: accountId,
    firstName,
    lastName: rest.join(" "),
    locale,
    seq: 0,
    generation: 0, // a reset starts a new one: events of the old one are dropped
    unread: 0,
    started: false,
    approved: false,
    retry: 0,
  };
  person.name = [person.firstName, person.lastName].filter(Boolean).join(" ");
  state.people.push(person);
  buildThread(person);
  buildListItem(person);
  selectPerson(person);
  try {
    await api("/person", {
      account: person.account,
      psid: person.psid,
      first_name: person.firstName,
      last_name: person.lastName,
      ...(locale ? { locale } : {}),
    });
  } catch (error) {
    notice(person, `The emulator did not take ${person.name}'s name: ${error.message}`, "error");
  }
  wantPoll(person);
  return person;
}

function buildListItem(person) {
  person.badge = element("span", { className: "badge", hidden: true });
  person.selectButton = element(
    "button",
    { type: "button", className: "person-select", onclick: () => selectPerson(person, true) },
    element("span", { className: "avatar", "aria-hidden": "true", text: initial(person.name) }),
    element(
      "span",
      { className: "person-text" },
      element("span", { className: "person-name", text: person.name }),
      element("span", {
        className: "person-meta",
        text: [person.locale || "no locale", `PSID ${person.psid}`].join(" · "),
      }),
    ),
    person.badge,
  );
  const reset = element("button", {
    type: "button",
    className: "person-reset",
    text: "Reset",
    "aria-label": `Reset ${person.name}`,
    title: "Forget this person's session and conversation",
    onclick: () => resetPerson(person),
  });
  person.listItem = element("li", { className: "person", "data-psid": person.psid }, person.selectButton, reset);
  $("people-list").append(person.listItem);
}

function initial(name) {
  return (name.trim()[0] ?? "?").toUpperCase();
}

function selectPerson(person, fromList = false) {
  state.current = person;
  for (const other of state.people) {
    other.thread.hidden = other !== person;
    other.listItem.classList.toggle("current", other === person);
    if (other === person) other.selectButton.setAttribute("aria-current", "true");
    else other.selectButton.removeAttribute("aria-current");
  }
  person.unread = 0;
  showBadges();
  const page = account(person);
  $("page-name").textContent = pageName(page);
  $("page-avatar").textContent = initial(pageName(page));
  $("chat-person").textContent = `${person.name} · ${person.locale || "no locale"}`;
  renderComposer(person);
  scrollDown(person);
  if (fromList) {
    closeDrawer();
    $("composer-text").focus({ preventScroll: true });
  }
  pump(); // the person shown polls first
}

function showBadges() {
  let others = 0;
  for (const person of state.people) {
    person.badge.hidden = person.unread === 0;
    person.badge.textContent = String(person.unread);
    person.badge.setAttribute("aria-label", `${person.unread} unread`);
    if (person !== state.current) others += person.unread;
  }
  $("drawer-badge").hidden = others === 0;
  $("drawer-badge").textContent = String(others);
}

async function resetPerson(person) {
  try {
    await api("/reset", { account: person.account, psid: person.psid });
  } catch (error) {
    notice(person, `Reset failed: ${error.message}`, "error");
    return;
  }
  person.generation += 1;
  person.seq = 0;
  person.unread = 0;
  person.started = false;
  person.approved = false;
  polls.running.get(person)?.controller.abort(); // its answer belongs to the old conversation
  person.thread.remove();
  buildThread(person);
  selectPerson(person);
  wantPoll(person);
}

// ---------------------------------------------------------------- a conversation

function buildThread(person) {
  person.messages = element("ol", { className: "messages" });
  person.intro = $("thread-intro").content.firstElementChild.cloneNode(true);
  person.thread = element(
    "section",
    {
      className: "thread",
      role: "log",
      "aria-live": "polite",
      "aria-label": `Conversation of ${person.name} with the page`,
      tabindex: "0",
      hidden: true,
    },
    person.intro,
    person.messages,
  );
  person.typing = null;
  person.chips = null;
  person.seen = null;
  $("threads").append(person.thread);
  renderIntro(person);
}

/** Before the first message: the page, its greeting, ice breakers and Get Started button. */
async function renderIntro(person) {
  const page = account(person);
  person.intro.querySelector(".avatar").textContent = initial(pageName(page));
  person.intro.querySelector(".intro-name").textContent = pageName(page);
  let profile = {};
  try {
    profile = (await profiles(person.locale)).get(person.account) ?? {};
  } catch (error) {
    notice(person, `The page's profile did not load: ${error.message}`, "error");
  }
  person.profile = profile;
  if (person === state.current) renderComposer(person);
  person.intro.querySelector(".intro-greeting").textContent = fillGreeting(profile.greeting ?? "", person);
  const breakers = person.intro.querySelector(".intro-ice-breakers");
  breakers.replaceChildren(
    ...(profile.ice_breakers ?? []).map((breaker) =>
      element("button", {
        type: "button",
        className: "ice-breaker",
        text: breaker.question,
        onclick: () => sendPostback(person, breaker.question, breaker.payload),
      }),
    ),
  );
  const start = person.intro.querySelector(".get-started");
  start.hidden = !profile.get_started;
  start.onclick = () => sendPostback(person, "Get Started", profile.get_started);
}

/** Meta's greeting placeholders, filled as Messenger fills them. */
function fillGreeting(greeting, person) {
  const names = {
    user_first_name: person.firstName,
    user_last_name: person.lastName,
    user_full_name: person.name,
  };
  return greeting.replace(/\{\{\s*(user_first_name|user_last_name|user_full_name)\s*\}\}/g, (_, key) => names[key]);
}

function start(person) {
  if (person.started) return;
  person.started = true;
  person.intro.classList.add("started");
}

function row(person, className, ...children) {
  const item = element("li", { className: `row ${className}` }, ...children);
  person.messages.append(item);
  if (person.typing) person.messages.append(person.typing); // the dots stay last
  scrollDown(person);
  return item;
}

function scrollDown(person) {
  if (person === state.current) person.thread.scrollTop = person.thread.scrollHeight;
}

function notice(person, text, kind = "info") {
  row(person, `notice ${kind}`, element("p", { text }));
}

function dropChips(person) {
  person.chips?.remove();
  person.chips = null;
}

/** What the person sent, on the right; a photo is its picture. */
function ownBubble(person, text, photo = null) {
  start(person);
  dropChips(person);
  person.seen?.remove();
  person.seen = null;
  const bubble = photo
    ? element("img", { className: "bubble-image own", src: photo, alt: text })
    : element("div", { className: "bubble own", text });
  return row(person, "own", bubble);
}

function botMessage(person, message) {
  start(person);
  hideTyping(person);
  dropChips(person);
  const item = row(
    person,
    "bot",
    element("span", { className: "avatar", "aria-hidden": "true", text: initial(pageName(account(person))) }),
    renderMessage(message, (title, payload) => sendPostback(person, title, payload)),
  );
  if (typeof message.text === "string" && mayBePairingCode(person, message.text)) {
    item.append(approveButton(person));
  }
  if (message.quick_replies?.length) showChips(person, message.quick_replies);
}

/** Whether a text of the bot looks like a pairing reply: a code, to a person not yet approved. */
function mayBePairingCode(person, text) {
  const policy = account(person).dm_policy; // said by newer servers; any other policy: no button
  return !person.approved && (policy === undefined || policy === "pairing") && PAIRING_CODE.test(text);
}

/** Quick replies under the last message; a tap sends one and they go, as in Messenger. */
function showChips(person, replies) {
  const chips = replies.map((reply) => {
    if (reply.content_type === "user_email" || reply.content_type === "user_phone_number") {
      const value = reply.content_type === "user_email" ? emailOf(person) : "+15555550100";
      return chip(value, () => sendQuickReply(person, value, value));
    }
    return chip(reply.title, () => sendQuickReply(person, reply.title, reply.payload));
  });
  person.chips = row(
    person,
    "chips",
    element("div", { className: "chip-list", role: "group", "aria-label": "Quick replies" }, ...chips),
  );
}

function chip(title, onclick) {
  return element("button", { type: "button", className: "chip", text: title, onclick });
}

/** What Messenger offers for a user_email quick reply: the address of the person's account. */
function emailOf(person) {
  const local = person.name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, ".");
  return `${local.replace(/^\.|\.$/g, "") || "person"}@example.com`;
}

function approveButton(person) {
  const action = element("button", { type: "button", className: "approve", text: "Approve (as the page owner)" });
  action.onclick = async () => {
    action.disabled = true;
    try {
      const answer = await api("/approve", { account: person.account, psid: person.psid });
      if (!answer.ok) throw new Error(answer.error ?? "not approved");
      person.approved = true;
      for (const done of person.messages.querySelectorAll(".owner-action")) done.remove();
      notice(person, `The page owner approved ${person.name}: the bot answers them now.`);
    } catch (error) {
      action.disabled = false;
      notice(person, `Approval failed: ${error.message}`, "error");
    }
  };
  return element("div", { className: "owner-action" }, action);
}

function showTyping(person) {
  if (!person.typing) {
    person.typing = element(
      "li",
      { className: "row bot typing" },
      element("span", { className: "avatar", "aria-hidden": "true", text: initial(pageName(account(person))) }),
      element(
        "div",
        { className: "bubble bot typing-bubble" },
        element("span", { className: "visually-hidden", text: "The page is typing" }),
        element("span", { className: "dot", "aria-hidden": "true" }),
        element("span", { className: "dot", "aria-hidden": "true" }),
        element("span", { className: "dot", "aria-hidden": "true" }),
      ),
    );
    person.messages.append(person.typing);
    scrollDown(person);
  }
  clearTimeout(person.typingTimer);
  person.typingTimer = setTimeout(() => hideTyping(person), TYPING_MS);
}

function hideTyping(person) {
  clearTimeout(person.typingTimer);
  person.typing?.remove();
  person.typing = null;
}

/** "Seen" under the person's last bubble, after the bot's mark_seen. */
function markSeen(person) {
  const own = person.messages.querySelectorAll(".row.own");
  const last = own[own.length - 1];
  if (!last) return;
  person.seen?.remove();
  person.seen = element("p", { className: "seen", text: "Seen" });
  last.append(person.seen);
}

function applyEvent(person, event) {
  if (event.kind === "message") {
    botMessage(person, event.message ?? {});
    if (person !== state.current) person.unread += 1;
  } else if (event.kind === "sender_action") {
    if (event.action === "typing_on") showTyping(person);
    else if (event.action === "typing_off") hideTyping(person);
    else if (event.action === "mark_seen") markSeen(person);
  } else if (event.kind === "handover") {
    hideTyping(person);
    notice(person, handoverText(event), "handover");
  }
}

// ---------------------------------------------------------------- what the person does

/** POST /emulator/api/send; a webhook that refused it (4xx, 5xx) is said under the bubble. */
async function send(person, body, item) {
  try {
    const answer = await api("/send", { account: person.account, psid: person.psid, ...body });
    if (answer.status >= 300) {
      item.append(element("p", { className: "delivery-error", text: `The webhook answered ${answer.status}: not delivered` }));
    }
  } catch (error) {
    item.append(element("p", { className: "delivery-error", text: `Not sent: ${error.message}` }));
  }
}

function sendText(person, text) {
  return send(person, { text }, ownBubble(person, text));
}

function sendQuickReply(person, title, payload) {
  return send(person, { quick_reply: { title, payload } }, ownBubble(person, title));
}

function sendPostback(person, title, payload) {
  return send(person, { postback: { title, payload } }, ownBubble(person, title));
}

/** A photo as Messenger delivers one: an image attachment with a URL (one of this page's,
 * so the page shows it without fetching from elsewhere). */
function sendPhoto(person) {
  const url = new URL("/emulator/static/photo.png", location.href).href;
  return send(person, { attachment: { type: "image", url } }, ownBubble(person, "A photo", url));
}

let readTimer = null;
/** The person has the thread open: a `message_reads` event, once a burst of messages is in. */
function markRead(person) {
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    if (person === state.current && document.visibilityState === "visible") {
      api("/send", { account: person.account, psid: person.psid, read: true }).catch(() => {});
    }
  }, 400);
}

// ---------------------------------------------------------------- composer and menu

function renderComposer(person) {
  const profile = person.profile ?? {};
  const disabled = Boolean(profile.composer_input_disabled);
  $("composer-text").hidden = disabled;
  $("send-button").hidden = disabled;
  const items = profile.persistent_menu ?? [];
  $("menu-button").hidden = items.length === 0;
  closeMenu();
  $("menu-items").replaceChildren(
    ...items.map((item) =>
      element(
        "li",
        {},
        button(
          item,
          (title, payload) => {
            closeMenu();
            sendPostback(person, title, payload);
          },
          "menu-item",
        ),
      ),
    ),
  );
}

function toggleMenu() {
  const open = $("menu-popup").hidden;
  $("menu-popup").hidden = !open;
  $("menu-button").setAttribute("aria-expanded", String(open));
  if (open) $("menu-items").querySelector("button, a")?.focus();
}

function closeMenu() {
  $("menu-popup").hidden = true;
  $("menu-button").setAttribute("aria-expanded", "false");
}

function openDrawer() {
  $("app").classList.add("drawer");
  $("drawer-open").setAttribute("aria-expanded", "true");
  $("people").querySelector("button, input")?.focus();
}

function closeDrawer() {
  $("app").classList.remove("drawer");
  $("drawer-open").setAttribute("aria-expanded", "false");
}

// ---------------------------------------------------------------- long polls

const polls = { running: new Map(), queue: [] };

function wantPoll(person) {
  if (!polls.running.has(person) && !polls.queue.includes(person)) polls.queue.push(person);
  pump();
}

function pump() {
  const shown = polls.queue.indexOf(state.current);
  if (shown > 0) polls.queue.unshift(...polls.queue.splice(shown, 1));
  if (shown >= 0 && polls.running.size >= MAX_POLLS) {
    // a background poll gives its place now; its person asks again after the others
    const background = [...polls.running].find(([person]) => person !== state.current);
    background?.[1].controller.abort();
  }
  while (polls.queue.length && polls.running.size < MAX_POLLS) poll(polls.queue.shift());
}

async function poll(person) {
  const run = { controller: new AbortController() };
  polls.running.set(person, run);
  const generation = person.generation;
  let delay = 0;
  try {
    const query = new URLSearchParams({ account: person.account, psid: person.psid, after: String(person.seq) });
    if (state.people.length > MAX_POLLS && person !== state.current) query.set("wait", String(ROTATE_SECONDS));
    const answer = await fetch(`${API}/events?${query}`, { signal: run.controller.signal, cache: "no-store" });
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    const body = await answer.json();
    if (generation === person.generation) receive(person, body.events ?? []);
    person.retry = 0;
    connection(true);
  } catch (error) {
    if (error.name !== "AbortError") {
      delay = RETRY_MS[Math.min(person.retry, RETRY_MS.length - 1)];
      person.retry += 1;
      connection(false);
    }
  } finally {
    polls.running.delete(person);
    if (delay) setTimeout(() => wantPoll(person), delay);
    else polls.queue.push(person);
    pump();
  }
}

function receive(person, events) {
  let messages = 0;
  for (const event of events) {
    if (typeof event.seq !== "number" || event.seq <= person.seq) continue;
    person.seq = event.seq;
    applyEvent(person, event);
    if (event.kind === "message") messages += 1;
  }
  if (messages === 0) return;
  showBadges();
  if (person === state.current) markRead(person);
}

function connection(ok) {
  const banner = $("load-error");
  if (ok && banner.dataset.kind === "connection") banner.hidden = true;
  if (!ok) {
    banner.dataset.kind = "connection";
    banner.textContent = "The emulator does not answer: is `runtime emulator` still running? Retrying.";
    banner.hidden = false;
  }
}

// ---------------------------------------------------------------- start

function wire() {
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const field = $("composer-text");
    const text = field.value.trim();
    if (!text || !state.current) return;
    field.value = "";
    sendText(state.current, text);
  });
  $("add-person").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("person-name").value.trim();
    if (!name) return;
    addPerson(name, $("person-locale").value, $("person-account").value || state.bot.accounts[0].id);
    event.target.reset();
  });
  $("menu-button").addEventListener("click", toggleMenu);
  $("photo-button").addEventListener("click", () => state.current && sendPhoto(state.current));
  document.addEventListener("click", (event) => {
    if (!$("menu-popup").hidden && !event.target.closest("#menu-popup, #menu-button")) closeMenu();
  });
  $("drawer-open").addEventListener("click", openDrawer);
  $("drawer-close").addEventListener("click", closeDrawer);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    if (!$("menu-popup").hidden) {
      closeMenu();
      $("menu-button").focus();
    } else if ($("app").classList.contains("drawer")) {
      closeDrawer();
      $("drawer-open").focus();
    }
  });
  document.addEventListener("visibilitychange", () => {
    if (state.current) markRead(state.current);
  });
}

function fillForm(bot) {
  const locales = $("person-locale");
  for (const locale of bot.locales ?? []) locales.append(element("option", { value: locale, text: locale }));
  const accounts = $("person-account");
  for (const page of bot.accounts) {
    accounts.append(element("option", { value: page.id, text: `${pageName(page)} (${page.id})` }));
  }
  $("field-account").hidden = bot.accounts.length < 2;
}

async function main() {
  wire();
  try {
    state.bot = await api("/bot");
  } catch (error) {
    $("load-error").textContent = `The bot's information did not load: ${error.message}`;
    $("load-error").hidden = false;
    return;
  }
  if (!state.bot.accounts?.length) {
    $("load-error").textContent = "The config has no Messenger account enabled: nothing to emulate.";
    $("load-error").hidden = false;
    return;
  }
  state.profiles.set("", Promise.resolve(new Map(state.bot.accounts.map((a) => [a.id, a.profile ?? {}]))));
  const page = state.bot.accounts[0];
  document.title = `${pageName(page)} · Messenger emulator`;
  fillForm(state.bot);
  await addPerson(FIRST_PERSON, "", page.id);
  document.body.dataset.ready = "true"; // for the browser tests: the first person is polling
}

main();

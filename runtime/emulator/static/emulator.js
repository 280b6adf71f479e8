// The emulator's page: the people, the conversation on screen and the composer.
//
// Each person is a PSID made here; what they tap or type goes to POST /emulator/api/send, which
// signs a real webhook and posts it to the bot. What the bot sends comes back as the person's
// events, read by a long poll of their own (polls.js), so a person not shown keeps receiving:
// their events are drawn into their hidden conversation and a badge counts the messages.

import { api } from "./api.js";
import { Conversation, initial } from "./conversation.js";
import { button, element } from "./messages.js";
import { Polls } from "./polls.js";

// a pairing code, as runtime/access.py makes them: 8 of these characters
const PAIRING_CODE = /(^|[^A-Z0-9])[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{8}([^A-Z0-9]|$)/;
const FIRST_PERSON = "Ada Lovelace";
const READ_AFTER_MS = 400; // a burst of messages is read once

const $ = (id) => document.getElementById(id);
const state = {
  bot: null, // GET /emulator/api/bot, without ?locale
  profiles: new Map(), // locale ("" for none) -> Promise of Map(account id -> profile)
  people: [],
  current: null,
};
const polls = new Polls({
  shown: () => state.current,
  receive,
  connection: (ok) => problem(ok ? null : "The emulator does not answer: is it still running? Retrying."),
});

// ---------------------------------------------------------------- the bot and its pages

/** The accounts' profiles as a person of `locale` sees them (Meta picks the entry by it). */
function profiles(locale) {
  if (!state.profiles.has(locale)) {
    const query = locale ? `?locale=${encodeURIComponent(locale)}` : "";
    const loading = api(`/bot${query}`).then(
      (bot) => new Map(bot.accounts.map((page) => [page.id, page.profile ?? {}])),
    );
    loading.catch(() => state.profiles.delete(locale)); // asked again next time
    state.profiles.set(locale, loading);
  }
  return state.profiles.get(locale);
}

function pageOf(person) {
  return state.bot.accounts.find((page) => page.id === person.account);
}

/** The page's name as Messenger shows it; a config without `name` gets a stand-in. */
function pageName(page) {
  return page.name || (page.id === "default" ? "Your page" : `Page ${page.id}`);
}

function problem(text) {
  const banner = $("load-error");
  banner.hidden = text === null;
  if (text !== null) banner.textContent = text;
}

// ---------------------------------------------------------------- people

function newPsid() {
  const digits = crypto.getRandomValues(new Uint8Array(15));
  return "7" + Array.from(digits, (byte) => byte % 10).join("");
}

async function addPerson(name, locale, account) {
  const [firstName, ...rest] = name.trim().split(/\s+/);
  const person = { psid: newPsid(), account, firstName, lastName: rest.join(" "), locale };
  person.name = [firstName, person.lastName].filter(Boolean).join(" ");
  Object.assign(person, { seq: 0, generation: 0, unread: 0, approved: false });
  state.people.push(person);
  newConversation(person);
  listPerson(person);
  selectPerson(person);
  try {
    await api("/person", {
      account,
      psid: person.psid,
      first_name: firstName,
      last_name: person.lastName,
      ...(locale ? { locale } : {}),
    });
  } catch (error) {
    person.conversation.notice(`The emulator did not take ${person.name}'s name: ${error.message}`, "error");
  }
  polls.want(person);
}

function newConversation(person) {
  person.conversation?.element.remove();
  const conversation = new Conversation(person, pageName(pageOf(person)), {
    postback: (title, payload) => sendPostback(person, title, payload),
    quickReply: (title, payload) => send(person, { quick_reply: { title, payload } }, title),
    approve: () => approve(person),
  });
  person.conversation = conversation;
  $("threads").append(conversation.element);
  profiles(person.locale).then(
    (found) => {
      person.profile = found.get(person.account) ?? {};
      conversation.showIntro(person.profile);
      if (person === state.current) showComposer(person);
    },
    (error) => conversation.notice(`The page's profile did not load: ${error.message}`, "error"),
  );
}

function listPerson(person) {
  // the number for the eyes, a sentence for screen readers
  person.badge = element("span", { className: "badge", "aria-hidden": "true", hidden: true });
  person.unreadText = element("span", { className: "visually-hidden" });
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
        text: [
          state.bot.accounts.length > 1 ? pageName(pageOf(person)) : null,
          person.locale || "no locale",
          `PSID ${person.psid}`,
        ]
          .filter(Boolean)
          .join(" · "),
      }),
    ),
    person.badge,
    person.unreadText,
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

function selectPerson(person, fromList = false) {
  state.current = person;
  for (const other of state.people) {
    const current = other === person;
    other.conversation.element.hidden = !current;
    other.listItem.classList.toggle("current", current);
    if (current) other.selectButton.setAttribute("aria-current", "true");
    else other.selectButton.removeAttribute("aria-current");
  }
  person.unread = 0;
  showBadges();
  const page = pageName(pageOf(person));
  $("page-name").textContent = page;
  $("page-avatar").textContent = initial(page);
  $("chat-person").textContent = `${person.name} · ${person.locale || "no locale"}`;
  showComposer(person);
  person.conversation.scrollDown();
  if (fromList) {
    closeDrawer();
    $("composer-text").focus({ preventScroll: true });
  }
  polls.pump(); // the person shown polls first
}

function showBadges() {
  let others = 0;
  for (const person of state.people) {
    person.badge.hidden = person.unread === 0;
    person.badge.textContent = String(person.unread);
    person.unreadText.textContent = person.unread ? `, ${person.unread} unread` : "";
    if (person !== state.current) others += person.unread;
  }
  $("drawer-badge").hidden = others === 0;
  $("drawer-badge").textContent = String(others);
  $("drawer-unread").textContent = others ? `, ${others} unread` : "";
}

async function resetPerson(person) {
  try {
    await api("/reset", { account: person.account, psid: person.psid });
  } catch (error) {
    person.conversation.notice(`Reset failed: ${error.message}`, "error");
    return;
  }
  Object.assign(person, { generation: person.generation + 1, seq: 0, unread: 0, approved: false });
  newConversation(person);
  selectPerson(person);
  polls.restart(person);
}

// ---------------------------------------------------------------- what the bot does

function receive(person, events) {
  let messages = 0;
  for (const event of events) {
    if (typeof event.seq !== "number" || event.seq <= person.seq) continue;
    person.seq = event.seq;
    if (event.kind === "message") {
      const message = event.message ?? {};
      person.conversation.bot(message, { pairing: mayBePairing(person, message) });
      messages += 1;
    } else if (event.kind === "sender_action") {
      if (event.action === "typing_on") person.conversation.showTyping();
      else if (event.action === "typing_off") person.conversation.hideTyping();
      else if (event.action === "mark_seen") person.conversation.markSeen();
    } else if (event.kind === "handover") {
      person.conversation.handover(event);
    }
  }
  if (messages === 0) return;
  if (person === state.current) markRead(person);
  else person.unread += messages;
  showBadges();
}

/** Whether a message of the bot looks like a pairing reply: a code, to a person not yet
 * approved, on a page under dmPolicy "pairing". */
function mayBePairing(person, message) {
  const policy = pageOf(person).dm_policy;
  return (
    typeof message.text === "string" &&
    !person.approved &&
    (policy === undefined || policy === "pairing") &&
    PAIRING_CODE.test(message.text)
  );
}

async function approve(person) {
  const answer = await api("/approve", { account: person.account, psid: person.psid });
  if (!answer.ok) throw new Error(answer.error ?? "not approved");
  person.approved = true;
}

// ---------------------------------------------------------------- what the person does

/** POST /emulator/api/send, `shown` drawn as the person's bubble first; a webhook that
 * refused it (4xx, 5xx) is said under the bubble. */
async function send(person, body, shown, photo = null) {
  const item = person.conversation.own(shown, photo);
  try {
    const answer = await api("/send", { account: person.account, psid: person.psid, ...body });
    if (answer.status >= 300) {
      person.conversation.undelivered(item, `The webhook answered ${answer.status}: not delivered`);
    }
  } catch (error) {
    person.conversation.undelivered(item, `Not sent: ${error.message}`);
  }
}

function sendPostback(person, title, payload) {
  return send(person, { postback: { title, payload } }, title);
}

/** A photo as Messenger delivers one: an image attachment with a URL (one this server
 * serves, so the page shows it without fetching from elsewhere). */
function sendPhoto(person) {
  const url = new URL("/emulator/static/photo.png", location.href).href;
  return send(person, { attachment: { type: "image", url } }, "A photo", url);
}

let readTimer = null;
/** The person has the conversation open: a `message_reads` event, once a burst is in. */
function markRead(person) {
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    if (person === state.current && document.visibilityState === "visible") {
      api("/send", { account: person.account, psid: person.psid, read: true }).catch(() => {});
    }
  }, READ_AFTER_MS);
}

// ---------------------------------------------------------------- composer, menu, drawer

/** The composer as the page's profile has it: the persistent menu, the text field unless
 * composer_input_disabled. */
function showComposer(person) {
  const profile = person.profile ?? {};
  $("composer-text").hidden = Boolean(profile.composer_input_disabled);
  $("send-button").hidden = Boolean(profile.composer_input_disabled);
  const items = profile.persistent_menu ?? [];
  $("menu-button").hidden = items.length === 0;
  closeMenu();
  const tap = (title, payload) => {
    closeMenu();
    sendPostback(person, title, payload);
  };
  $("menu-items").replaceChildren(...items.map((item) => element("li", {}, button(item, tap, "menu-item"))));
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

// ---------------------------------------------------------------- start

function wire() {
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const field = $("composer-text");
    const text = field.value.trim();
    if (!text || !state.current) return;
    field.value = "";
    send(state.current, { text }, text);
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
  document.addEventListener("visibilitychange", () => state.current && markRead(state.current));
  window.addEventListener("pagehide", () => polls.stop());
  window.addEventListener("pageshow", (event) => event.persisted && polls.resume());
}

function fillForm(bot) {
  for (const locale of bot.locales ?? []) {
    $("person-locale").append(element("option", { value: locale, text: locale }));
  }
  for (const page of bot.accounts) {
    $("person-account").append(element("option", { value: page.id, text: `${pageName(page)} (${page.id})` }));
  }
  $("field-account").hidden = bot.accounts.length < 2;
}

async function main() {
  wire();
  try {
    state.bot = await api("/bot");
  } catch (error) {
    problem(`The bot's information did not load: ${error.message}`);
    return;
  }
  if (!state.bot.accounts?.length) {
    problem("The config has no Messenger account enabled: nothing to emulate.");
    return;
  }
  const byAccount = new Map(state.bot.accounts.map((page) => [page.id, page.profile ?? {}]));
  state.profiles.set("", Promise.resolve(byAccount));
  const page = state.bot.accounts[0];
  document.title = `${pageName(page)} · Messenger emulator`;
  fillForm(state.bot);
  await addPerson(FIRST_PERSON, "", page.id);
  document.body.dataset.ready = "true"; // for the browser tests: the first person is polling
}

main();

// One person's conversation with the page, as Messenger draws it: the intro before the first
// message (the page, its greeting, ice breakers, Get Started), then the bubbles, the quick
// replies as chips under the last one, the typing dots, "Seen" and the handover lines.
//
// It draws; it does not talk to the server: what the person taps goes to `actions`.

import { element, handoverText, renderMessage } from "./messages.js";

const TYPING_MS = 20000; // Messenger drops the typing bubble after 20 s without typing_off
const GREETING_NAMES = /\{\{\s*(user_first_name|user_last_name|user_full_name)\s*\}\}/g;

export function initial(name) {
  return (name.trim()[0] ?? "?").toUpperCase();
}

export class Conversation {
  /**
   * `person`: `{name, firstName, lastName}`; `page`: the page's name; `actions`:
   * `postback(title, payload)`, `quickReply(title, payload)` and `approve()` (a Promise that
   * fails with the reason), each also drawing the person's bubble through this conversation.
   */
  constructor(person, page, actions) {
    this.person = person;
    this.page = page;
    this.actions = actions;
    this.started = false;
    this.typing = null;
    this.chips = null;
    this.seen = null;
    this.messages = element("ol", { className: "messages" });
    this.intro = document.getElementById("thread-intro").content.firstElementChild.cloneNode(true);
    this.element = element(
      "section",
      {
        className: "thread",
        role: "log",
        "aria-live": "polite",
        "aria-label": `Conversation of ${person.name} with ${page}`,
        tabindex: "0",
        hidden: true,
      },
      this.intro,
      this.messages,
    );
    this.intro.querySelector(".avatar").textContent = initial(page);
    this.intro.querySelector(".intro-name").textContent = page;
  }

  /** Before the first message: the greeting (its placeholders filled as Messenger fills them),
   * the ice breakers and the Get Started button of the page's profile. */
  showIntro(profile) {
    const names = {
      user_first_name: this.person.firstName,
      user_last_name: this.person.lastName,
      user_full_name: this.person.name,
    };
    const greeting = (profile.greeting ?? "").replace(GREETING_NAMES, (_, key) => names[key]);
    this.intro.querySelector(".intro-greeting").textContent = greeting;
    this.intro.querySelector(".intro-ice-breakers").replaceChildren(
      ...(profile.ice_breakers ?? []).map((breaker) =>
        element("button", {
          type: "button",
          className: "ice-breaker",
          text: breaker.question,
          onclick: () => this.actions.postback(breaker.question, breaker.payload),
        }),
      ),
    );
    const start = this.intro.querySelector(".get-started");
    start.hidden = !profile.get_started;
    start.onclick = () => this.actions.postback("Get Started", profile.get_started);
  }

  get shown() {
    return !this.element.hidden;
  }

  scrollDown() {
    if (this.shown) this.element.scrollTop = this.element.scrollHeight;
  }

  start() {
    if (this.started) return;
    this.started = true;
    this.intro.classList.add("started");
  }

  row(className, ...children) {
    const item = element("li", { className: `row ${className}` }, ...children);
    this.messages.append(item);
    if (this.typing) this.messages.append(this.typing); // the dots stay last
    this.scrollDown();
    return item;
  }

  notice(text, kind = "info") {
    this.row(`notice ${kind}`, element("p", { text }));
  }

  dropChips() {
    this.chips?.remove();
    this.chips = null;
  }

  /** What the person sent, on the right (a photo is its picture); its row, for a delivery
   * error to go under. */
  own(text, photo = null) {
    this.start();
    this.dropChips();
    this.seen?.remove();
    this.seen = null;
    const bubble = photo
      ? element("img", { className: "bubble-image own", src: photo, alt: text })
      : element("div", { className: "bubble own", text });
    return this.row("own", bubble);
  }

  undelivered(item, reason) {
    item.append(element("p", { className: "delivery-error", text: reason }));
  }

  avatar() {
    return element("span", { className: "avatar", "aria-hidden": "true", text: initial(this.page) });
  }

  /** A message of the bot's, as the Send API carried it; `pairing`: it gives a pairing code,
   * so the page's owner gets a button to approve the person. */
  bot(message, { pairing = false } = {}) {
    this.start();
    this.hideTyping();
    this.dropChips();
    const item = this.row(
      "bot",
      this.avatar(),
      renderMessage(message, (title, payload) => this.actions.postback(title, payload)),
    );
    if (pairing) item.append(this.approveButton());
    if (message.quick_replies?.length) this.showChips(message.quick_replies);
  }

  /** Quick replies under the last message; a tap sends one and they go, as in Messenger.
   * user_email and user_phone_number offer what Messenger knows of the person. */
  showChips(replies) {
    const chips = replies.map((reply) => {
      let [title, payload] = [reply.title, reply.payload];
      if (reply.content_type === "user_email") title = payload = emailOf(this.person.name);
      if (reply.content_type === "user_phone_number") title = payload = "+15555550100";
      return element("button", {
        type: "button",
        className: "chip",
        text: title,
        onclick: () => this.actions.quickReply(title, payload),
      });
    });
    this.chips = this.row(
      "chips",
      element("div", { className: "chip-list", role: "group", "aria-label": "Quick replies" }, ...chips),
    );
  }

  approveButton() {
    const action = element("button", {
      type: "button",
      className: "approve",
      text: "Approve (as the page owner)",
    });
    action.onclick = async () => {
      action.disabled = true;
      try {
        await this.actions.approve();
      } catch (error) {
        action.disabled = false;
        this.notice(`Approval failed: ${error.message}`, "error");
        return;
      }
      for (const done of this.messages.querySelectorAll(".owner-action")) done.remove();
      this.notice(`The page owner approved ${this.person.name}: the bot answers them now.`);
    };
    return element("div", { className: "owner-action" }, action);
  }

  showTyping() {
    if (!this.typing) {
      const dot = () => element("span", { className: "dot", "aria-hidden": "true" });
      this.typing = element(
        "li",
        { className: "row bot typing" },
        this.avatar(),
        element(
          "div",
          { className: "bubble bot typing-bubble" },
          element("span", { className: "visually-hidden", text: `${this.page} is typing` }),
          dot(),
          dot(),
          dot(),
        ),
      );
      this.messages.append(this.typing);
      this.scrollDown();
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.hideTyping(), TYPING_MS);
  }

  hideTyping() {
    clearTimeout(this.typingTimer);
    this.typing?.remove();
    this.typing = null;
  }

  /** "Seen" under the person's last bubble, after the bot's mark_seen. */
  markSeen() {
    const own = this.messages.querySelectorAll(".row.own");
    const last = own[own.length - 1];
    if (!last) return;
    this.seen?.remove();
    this.seen = element("p", { className: "seen", text: "Seen" });
    last.append(this.seen);
  }

  handover(event) {
    this.hideTyping();
    this.notice(handoverText(event), "handover");
  }
}

/** The address Messenger offers for a user_email quick reply: made from the person's name. */
function emailOf(name) {
  const local = name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, ".");
  return `${local.replace(/^\.|\.$/g, "") || "person"}@example.com`;
}

// The bot's messages as Messenger draws them: a Send API `message` object (exactly as the bot
// sent it) in, DOM nodes out. No state and no requests: a tap calls back into emulator.js.
//
// Images, videos and audio load only from this server (the Graph API stand-in serves uploads
// under /emulator/api/media/): the page never fetches from another host, so a URL elsewhere
// (the quickstart's https://example.com/...) is shown as a link to open, not loaded.

export const PAGE_INBOX_APP_ID = "263902037430900"; // Meta's Page Inbox (runtime/dialog/effects.py)

/** Whether `url` is this server's own, so the page may load it. */
export function isLocal(url) {
  try {
    return new URL(url, location.href).origin === location.origin;
  } catch {
    return false;
  }
}

/** Only http(s) links open; anything else (javascript:, data:) is shown, never followed. */
function safeHref(url) {
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

/** A link that opens in a new tab, as Messenger opens web_url buttons. */
export function externalLink(url, label, className) {
  const href = safeHref(url);
  if (href === null) return element("span", { className, text: label, title: String(url) });
  return element("a", { className, href, target: "_blank", rel: "noopener noreferrer", text: label });
}

/**
 * A template's or the menu's button. `tap(title, payload)` sends a postback.
 * web_url opens in a new tab, phone_number is a tel: link; the rest cannot be tried here.
 */
export function button(spec, tap, className = "template-button") {
  const title = String(spec.title ?? "");
  if (spec.type === "postback") {
    return element("button", {
      type: "button",
      className,
      text: title,
      onclick: () => tap(title, String(spec.payload ?? "")),
    });
  }
  if (spec.type === "web_url") return externalLink(spec.url, title, className);
  if (spec.type === "phone_number") {
    return element("a", { className, href: `tel:${spec.payload ?? ""}`, text: title });
  }
  return element("button", {
    type: "button",
    className,
    text: title,
    disabled: true,
    title: `A ${spec.type} button: Messenger only`,
  });
}

/** The nodes of one message of the bot: a bubble, a template, a carousel or a media. */
export function renderMessage(message, tap) {
  if (typeof message.text === "string") {
    return element("div", { className: "bubble bot", text: message.text });
  }
  const attachment = message.attachment ?? {};
  const payload = attachment.payload ?? {};
  if (attachment.type === "template") return renderTemplate(payload, tap);
  if (["image", "video", "audio", "file"].includes(attachment.type)) {
    return renderMedia(attachment.type, mediaUrl(payload));
  }
  return element("div", {
    className: "bubble bot unsupported",
    text: "A message the emulator cannot show (see the server's log).",
  });
}

function mediaUrl(payload) {
  if (typeof payload.url === "string") return payload.url;
  if (payload.attachment_id !== undefined) {
    return `/emulator/api/media/${encodeURIComponent(payload.attachment_id)}`;
  }
  return "";
}

function renderTemplate(payload, tap) {
  if (payload.template_type === "button") {
    return element(
      "div",
      { className: "bubble bot button-template" },
      element("p", { className: "template-text", text: payload.text ?? "" }),
      element("div", { className: "template-buttons" }, ...(payload.buttons ?? []).map((b) => button(b, tap))),
    );
  }
  if (payload.template_type === "generic") {
    const cards = payload.elements ?? [];
    return element(
      "div",
      { className: "carousel", role: "group", "aria-label": `${cards.length} cards` },
      ...cards.map((card) => renderCard(card, tap)),
    );
  }
  return element("div", {
    className: "bubble bot unsupported",
    text: `A ${payload.template_type} template: the emulator does not draw it.`,
  });
}

function renderCard(card, tap) {
  const opens = card.default_action?.type === "web_url" ? card.default_action.url : null;
  const title = String(card.title ?? "");
  const picture = card.image_url ? renderCardImage(card.image_url, title) : null;
  return element(
    "article",
    { className: "card" },
    picture,
    element(
      "div",
      { className: "card-body" },
      element("h4", { className: "card-title" }, opens ? externalLink(opens, title) : title),
      card.subtitle ? element("p", { className: "card-subtitle", text: card.subtitle }) : null,
    ),
    card.buttons?.length
      ? element("div", { className: "card-buttons" }, ...card.buttons.map((b) => button(b, tap)))
      : null,
  );
}

function renderCardImage(url, title) {
  if (isLocal(url)) {
    return element("img", { className: "card-image", src: url, alt: title, loading: "lazy" });
  }
  return notLoaded("card-image placeholder", url);
}

/** An image from another host: a grey frame with its address, which opens in a new tab. */
function notLoaded(className, url) {
  let host = String(url);
  try {
    host = new URL(url).host;
  } catch {
    // shown as written
  }
  return element(
    "div",
    { className, title: "Not loaded: the emulator fetches nothing from other hosts" },
    element("span", { className: "placeholder-icon", "aria-hidden": "true" }),
    externalLink(url, `Image on ${host}`, "placeholder-link"),
  );
}

function renderMedia(type, url) {
  const name = decodeURIComponent(url.split("/").pop() || type);
  if (type === "image") {
    if (isLocal(url)) {
      return element("img", { className: "bubble-image", src: url, alt: "An image from the bot" });
    }
    return notLoaded("bubble-image placeholder", url);
  }
  if ((type === "video" || type === "audio") && isLocal(url)) {
    return element(type, { className: `bubble-${type}`, src: url, controls: true, preload: "none" });
  }
  return element(
    "div",
    { className: "bubble bot file" },
    element("span", { className: "file-kind", text: `${type}: ` }),
    externalLink(url, name),
  );
}

/** The line between bubbles for a thread handed over or taken back (`handover` events). */
export function handoverText(event) {
  if (event.action === "pass_thread_control") {
    return String(event.target_app_id ?? "") === PAGE_INBOX_APP_ID
      ? "Handed over to the Page Inbox"
      : `Handed over to app ${event.target_app_id}`;
  }
  if (event.action === "take_thread_control") return "The bot took the conversation back";
  return `Thread control: ${event.action}`;
}

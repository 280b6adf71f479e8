// Each person's long poll of GET /emulator/api/events, so a person not on screen keeps
// receiving what the bot sends them.
//
// Chrome opens 6 connections to a host: 4 long polls at most leave 2 for sends and taps. With
// more people than that, the polls of those not shown wait ROTATE_SECONDS at most (the API's
// `wait`), so they take turns, and the person shown never waits for one: a background poll
// gives its place at once. No event is lost: a poll asks for everything after the last seq seen.
//
// A page left for another keeps its polls in Chrome's back/forward cache, each holding one of
// those 6 connections for up to 15 s: `stop()` on pagehide ends them, `resume()` on pageshow.

import { API, problem } from "./api.js";

const MAX_POLLS = 4;
const ROTATE_SECONDS = 2;
const RETRY_MS = [500, 1000, 2000, 5000];

export class Polls {
  /**
   * `shown()`: the person on screen; `receive(person, events)`: their new events, in order; `connection(ok)`: whether the
   * server answers. A person is `{account, psid, seq, generation}`: a reset bumps
   * `generation`, and the answer of a poll made before is dropped.
   */
  constructor({ shown, receive, connection }) {
    Object.assign(this, { shown, receive, connection });
    this.people = new Set();
    this.running = new Map(); // person -> AbortController
    this.queue = [];
    this.retries = new Map(); // person -> failures in a row
    this.stopped = false;
  }

  stop() {
    this.stopped = true;
    this.queue = [];
    for (const controller of this.running.values()) controller.abort();
  }

  resume() {
    this.stopped = false;
    for (const person of this.people) this.want(person);
  }

  want(person) {
    this.people.add(person);
    if (!this.running.has(person) && !this.queue.includes(person)) this.queue.push(person);
    this.pump();
  }

  /** Drop the poll in flight (its answer belongs to a conversation forgotten); ask again. */
  restart(person) {
    this.running.get(person)?.abort();
    this.want(person);
  }

  pump() {
    if (this.stopped) return;
    const shown = this.shown();
    const waiting = this.queue.indexOf(shown);
    if (waiting > 0) this.queue.unshift(...this.queue.splice(waiting, 1));
    if (waiting >= 0 && this.running.size >= MAX_POLLS) {
      const background = [...this.running].find(([person]) => person !== shown);
      background?.[1].abort(); // its person asks again after the others
    }
    while (this.queue.length && this.running.size < MAX_POLLS) this.poll(this.queue.shift());
  }

  async poll(person) {
    const controller = new AbortController();
    this.running.set(person, controller);
    const generation = person.generation;
    let delay = 0;
    try {
      const query = new URLSearchParams({
        account: person.account,
        psid: person.psid,
        after: String(person.seq),
      });
      const crowded = this.people.size > MAX_POLLS;
      if (crowded && person !== this.shown()) query.set("wait", String(ROTATE_SECONDS));
      const answer = await fetch(`${API}/events?${query}`, {
        signal: controller.signal,
        cache: "no-store",
      });
      if (!answer.ok) throw new Error(await problem(answer));
      const body = await answer.json();
      if (generation === person.generation) this.receive(person, body.events ?? []);
      this.retries.delete(person);
      this.connection(true);
    } catch (error) {
      if (error.name !== "AbortError") {
        const failures = this.retries.get(person) ?? 0;
        delay = RETRY_MS[Math.min(failures, RETRY_MS.length - 1)];
        this.retries.set(person, failures + 1);
        this.connection(false);
      }
    } finally {
      this.running.delete(person);
      if (this.stopped) return;
      if (delay) setTimeout(() => this.want(person), delay);
      else this.queue.push(person);
      this.pump();
    }
  }
}

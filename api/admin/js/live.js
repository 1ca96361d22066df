// Live updates: one `mailServerEvents` subscription for the whole page (graphql-transport-ws),
// resumed after the last position seen whenever the connection drops, so nothing is missed.
import { createClient } from "../vendor/graphql-ws/client.js";
import { EVENT_FIELDS, gql } from "./api.js";

const EVENTS = `${EVENT_FIELDS}
subscription Live($after: String) { mailServerEvents(after: $after) { ...EventFields } }`;

const HEAD = "query Head { events(last: 1) { pageInfo { endCursor } } }";

const TOKEN_EXPIRED = 4403;

/** The websocket address of the API, beside this page. */
export function wsUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
}

/** A graphql-transport-ws client authenticated with `bearer`. */
export function connect(bearer, options = {}) {
  return createClient({
    url: wsUrl(),
    connectionParams: { authorization: `Bearer ${bearer}` },
    keepAlive: 20000,
    ...options,
  });
}

/** Follows the event log from its current end; `onEvent` gets each event, `onStatus` "live"/"down",
 * `onExpired` is called once when the server closes the connection for an expired token. */
export class EventFollower {
  constructor(bearer, { onEvent, onStatus, onExpired }) {
    this.bearer = bearer;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onExpired = onExpired;
    this.after = null;
    this.stopped = false;
    this.client = null;
  }

  async start() {
    // The position to resume from is read before any screen loads its data, so every
    // change after what a screen shows arrives as an event.
    const data = await gql(HEAD, {}, this.bearer);
    this.after = data.events.pageInfo.endCursor;
    this.loop();
  }

  stop() {
    this.stopped = true;
    this.client?.dispose();
  }

  async loop() {
    let failures = 0;
    while (!this.stopped) {
      // Our own retry loop (not the library's): each attempt subscribes after the newest position seen.
      const client = connect(this.bearer, { retryAttempts: 0, on: { connected: () => this.onStatus("live") } });
      this.client = client;
      const closed = await new Promise((resolve) => {
        client.subscribe(
          { query: EVENTS, variables: { after: this.after } },
          {
            next: (message) => {
              const event = message.data?.mailServerEvents;
              if (!event) return;
              failures = 0;
              this.after = event.position;
              this.onEvent(event);
            },
            error: (error) => resolve(error),
            complete: () => resolve(null),
          },
        );
      });
      client.dispose();
      if (this.stopped) return;
      this.onStatus("down");
      if (closed && closed.code === TOKEN_EXPIRED) {
        this.onExpired();
        return;
      }
      failures += 1;
      await new Promise((resolve) => setTimeout(resolve, Math.min(10000, 250 * 2 ** Math.min(failures, 6))));
    }
  }
}

// GraphQL over HTTP with the signed-in token, in the page's language.
import { lang, t } from "./i18n.js";

const TOKEN_KEY = "mailreg.token";

/** The bearer token of this tab (sessionStorage only), or null. */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** A top-level failure: network, HTTP, or a GraphQL error with extensions.code. */
export class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** Runs one operation; resolves to `data`, rejects with ApiError on any top-level error. */
export async function gql(query, variables = {}, bearer = token()) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        "accept-language": lang(),
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError("NETWORK", t("error.network"));
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError("HTTP", t("error.http", { status: response.status }));
  }
  if (body.errors && body.errors.length) {
    const code = body.errors[0].extensions?.code || "ERROR";
    const known = { UNAUTHENTICATED: "error.unauthenticated", FORBIDDEN: "error.forbidden" }[code];
    throw new ApiError(code, known ? t(known) : body.errors[0].message);
  }
  if (!response.ok) throw new ApiError("HTTP", t("error.http", { status: response.status }));
  return body.data;
}

export const SERVER_FIELDS = `
fragment ServerFields on MailServer {
  id code name position oauthProvider version createdAt updatedAt
  outgoing { host port encryption authMethod credentials timeoutSeconds }
  incoming { protocol host port useTls useApop timeoutSeconds }
}`;

export const EVENT_FIELDS = `
fragment EventFields on DomainEvent {
  position streamId type occurredAt actor
  ... on ServerAdded { server { id code name } }
  ... on ServerChanged { changes { field before after } }
  ... on ServersReordered { before after }
  ... on ServerDeleted { code name }
  ... on AllServersDeleted { deletedIds }
}`;

export const ERRORS = "errors { field code message }";

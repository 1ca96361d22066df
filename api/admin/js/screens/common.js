// Pieces several screens share: how settings read, and the form's labels by field path.
import { h } from "../dom.js";
import { t } from "../i18n.js";

export const PROVIDERS = { GOOGLE: "Google", MICROSOFT: "Microsoft" };

/** The label of each field path an error or a FieldChange names. */
export const FIELD_LABELS = {
  code: "f.code",
  name: "f.name",
  oauthProvider: "f.oauthClient",
  "outgoing.host": "f.outHost",
  "outgoing.port": "f.outPort",
  "outgoing.encryption": "f.encGroup",
  "outgoing.authMethod": "f.auth",
  "outgoing.credentials": "f.credGroup",
  "outgoing.timeoutSeconds": "f.timeout",
  "incoming.protocol": "f.protoGroup",
  "incoming.host": "f.inHost",
  "incoming.port": "f.inPort",
  "incoming.useTls": "f.inTls",
  "incoming.useApop": "f.apopGroup",
  "incoming.timeoutSeconds": "f.timeout",
};

/** A field path as people read it: "送信メールサーバー › タイムアウトまでの時間". */
export function fieldName(path) {
  const key = FIELD_LABELS[path];
  if (!key) return path;
  if (path.endsWith("timeoutSeconds")) return `${t(path.startsWith("outgoing") ? "f.outGroup" : "f.inGroup")} › ${t(key)}`;
  return t(key);
}

export function authLabel(method) {
  if (method === "NONE") return t("f.auth.NONE");
  return method.replace("_", "-");
}

/** A stored value as people read it, by the field it belongs to. */
export function valueText(path, value) {
  if (value === null || value === undefined) return "—";
  if (path === "oauthProvider") return PROVIDERS[value] || value;
  if (path === "outgoing.encryption") return t(`f.enc.${value}`);
  if (path === "outgoing.authMethod") return authLabel(value);
  if (path === "outgoing.credentials") return t(`f.cred.${value}`);
  if (path === "incoming.useApop") return t(`f.apop.${value}`);
  if (path.endsWith("timeoutSeconds")) return t("f.seconds", { n: value });
  if (typeof value === "boolean") return t(value ? "detail.yes" : "detail.no");
  return String(value);
}

export function oauthBadge(provider) {
  return provider ? h("span", { class: `badge badge-${provider.toLowerCase()}` }, `OAuth · ${PROVIDERS[provider]}`) : null;
}

export function hostPort(host, port) {
  return `${host}:${port}`;
}

/** A screen's title bar: the h1 and its actions. */
export function heading(title, ...actions) {
  return h("div", { class: "page-head" }, h("h1", {}, title), actions.length ? h("div", { class: "head-actions" }, actions) : null);
}

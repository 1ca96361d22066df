// The admin page: sign-in, the router over `#/...` addresses, the banner, and live updates.
import { ApiError, gql, setToken, token } from "./api.js";
import { h } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import { EventFollower } from "./live.js";
import { deleteAllScreen, deleteScreen } from "./screens/delete.js";
import { detailScreen } from "./screens/detail.js";
import { formScreen } from "./screens/form.js";
import { historyScreen } from "./screens/history.js";
import { listScreen } from "./screens/list.js";
import { previewScreen } from "./screens/preview.js";
import { reorderScreen } from "./screens/reorder.js";

const ROUTES = [
  [/^\/?$/, listScreen],
  [/^\/servers\/new$/, formScreen],
  [/^\/servers\/([^/]+)$/, detailScreen],
  [/^\/servers\/([^/]+)\/edit$/, formScreen],
  [/^\/servers\/([^/]+)\/delete$/, deleteScreen],
  [/^\/delete-all$/, deleteAllScreen],
  [/^\/reorder$/, reorderScreen],
  [/^\/history$/, historyScreen],
  [/^\/preview$/, previewScreen],
];

const main = document.getElementById("main");
const banner = document.getElementById("banner");
let screen = null;
let follower = null;
let notice = null;
let reloadTimer = null;

function takeTokenFromFragment() {
  // `mailreg serve` prints /admin/#token=...: keep it for this tab, then drop it from the address at once.
  const match = location.hash.match(/^#token=([^&]+)$/);
  if (!match) return;
  setToken(decodeURIComponent(match[1]));
  history.replaceState(null, "", `${location.pathname}${location.search}#/`);
}

/** Shows a top-level error above the page (expired token, server away). */
export function showBanner(message) {
  banner.replaceChildren(
    h("span", {}, message),
    h("button", { type: "button", class: "ghost small", onclick: () => (banner.hidden = true) }, t("dismiss")),
  );
  banner.hidden = false;
}

function fail(error) {
  if (error instanceof ApiError && error.code === "UNAUTHENTICATED") {
    signOut();
    showBanner(t("error.unauthenticated"));
    return;
  }
  showBanner(error.message || String(error));
}

const context = {
  go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  flash(message) {
    notice = message;
  },
  fail,
  redraw: () => draw(false),
};

function drawChrome() {
  document.documentElement.lang = lang();
  document.getElementById("brand-name").textContent = t("app.title");
  const signedIn = Boolean(token());
  const nav = document.getElementById("nav");
  nav.setAttribute("aria-label", t("nav.label"));
  const here = location.hash.replace(/^#/, "") || "/";
  const link = (href, key) =>
    h("a", { href: `#${href}`, "aria-current": here === href ? "page" : null }, t(key));
  nav.replaceChildren(
    ...(signedIn ? [link("/", "nav.servers"), link("/history", "nav.history"), link("/preview", "nav.preview")] : []),
  );
  const langButton = document.getElementById("lang");
  langButton.textContent = t("lang.switch");
  langButton.lang = lang() === "ja" ? "en" : "ja";
  const signout = document.getElementById("signout");
  signout.textContent = t("signout");
  signout.hidden = !signedIn;
  const live = document.getElementById("live");
  live.hidden = !signedIn;
}

function setLive(state) {
  const live = document.getElementById("live");
  live.dataset.state = state;
  live.textContent = t(state === "live" ? "live.on" : "live.off");
}

function draw(moveFocus) {
  drawChrome();
  if (!screen) return;
  const focused = document.activeElement && document.activeElement.id;
  const view = screen.view();
  const parts = [];
  if (notice) {
    parts.push(h("p", { class: "notice", role: "status" }, notice));
  }
  main.replaceChildren(...parts, view);
  document.title = `${screen.title()} — mailreg`;
  if (moveFocus) {
    const heading = main.querySelector("h1");
    heading?.setAttribute("tabindex", "-1");
    heading?.focus({ preventScroll: true });
  } else if (focused) {
    document.getElementById(focused)?.focus({ preventScroll: true });
  }
}

async function route() {
  screen?.dispose?.();
  screen = null;
  if (!token()) {
    screen = signInScreen();
    draw(true);
    return;
  }
  startFollowing();
  const path = location.hash.replace(/^#/, "") || "/";
  const match = ROUTES.map(([pattern, make]) => [path.match(pattern), make]).find(([m]) => m);
  const [params, make] = match || [["/"], listScreen];
  const next = make(context, params.slice(1));
  screen = next;
  main.replaceChildren(h("p", { class: "muted" }, t("loading")));
  try {
    await next.load();
  } catch (error) {
    if (screen !== next) return;
    fail(error);
    if (screen === next) {
      main.replaceChildren(
        h("div", { class: "card empty" }, h("p", {}, error.message), h("button", { type: "button", onclick: route }, t("retry"))),
      );
    }
    return;
  }
  if (screen !== next) return;
  draw(true);
  notice = null;
}

// One reload at a time: an older answer arriving late must never overwrite a newer one, so an
// event during a reload asks for one more reload after it instead of a second one in parallel.
let reloading = false;
let reloadAgain = false;
async function reload(current) {
  if (reloading) {
    reloadAgain = true;
    return;
  }
  reloading = true;
  try {
    let target = current;
    do {
      reloadAgain = false;
      await target.load();
      if (screen === target) draw(false);
      target = screen;
    } while (reloadAgain && target?.onEvent);
  } catch (error) {
    fail(error);
  } finally {
    reloading = false;
    reloadAgain = false;
  }
}

function startFollowing() {
  if (follower) return;
  follower = new EventFollower(token(), {
    onEvent: (event) => {
      if (!screen?.onEvent?.(event)) return;
      // A burst of events (a restore appends several) becomes one reload.
      clearTimeout(reloadTimer);
      const current = screen;
      reloadTimer = setTimeout(() => reload(current), 60);
    },
    onStatus: setLive,
    onExpired: () => {
      signOut();
      showBanner(t("error.unauthenticated"));
    },
  });
  setLive("down");
  follower.start().catch((error) => {
    follower = null;
    fail(error);
  });
}

function signOut() {
  setToken(null);
  follower?.stop();
  follower = null;
  screen?.dispose?.();
  screen = signInScreen();
  draw(true);
}

function signInScreen() {
  let error = null;
  let typed = "";
  const submit = async (event) => {
    event.preventDefault();
    typed = event.target.elements.token.value.trim();
    if (!typed) {
      error = t("signin.required");
      draw(false);
      return;
    }
    try {
      await gql("query SignIn { mailServers { version } }", {}, typed);
    } catch (failure) {
      error = failure.message;
      draw(false);
      document.getElementById("token")?.focus();
      return;
    }
    setToken(typed);
    banner.hidden = true;
    if (!location.hash || location.hash === "#") location.hash = "#/";
    route();
  };
  return {
    title: () => t("signin.title"),
    view: () =>
      h(
        "section",
        { class: "card narrow" },
        h("h1", {}, t("signin.title")),
        h("p", { class: "muted" }, t("signin.intro")),
        h(
          "form",
          { onsubmit: submit, novalidate: true },
          h(
            "div",
            { class: "field" },
            h("label", { for: "token" }, t("signin.token")),
            h("input", {
              id: "token",
              name: "token",
              type: "password",
              autocomplete: "off",
              value: typed,
              "aria-invalid": error ? "true" : null,
              "aria-describedby": error ? "token-error" : null,
            }),
            error && h("p", { id: "token-error", class: "field-error" }, error),
          ),
          h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("signin.submit"))),
        ),
      ),
  };
}

document.getElementById("lang").addEventListener("click", () => {
  setLang(lang() === "ja" ? "en" : "ja");
  if (screen?.relabel) screen.relabel();
  if (document.getElementById("live").dataset.state) setLive(document.getElementById("live").dataset.state);
  draw(false);
  document.getElementById("lang").focus();
});
document.getElementById("signout").addEventListener("click", signOut);
window.addEventListener("hashchange", route);
// A link to the screen already shown loads it afresh (no hashchange fires for it).
document.addEventListener("click", (event) => {
  const link = event.target.closest?.('a[href^="#/"]');
  if (!link || link.getAttribute("href") !== location.hash || event.button !== 0 || event.metaKey || event.ctrlKey) return;
  event.preventDefault();
  route();
});

takeTokenFromFragment();
route();

// Language choice and message lookup for the pages (English and Chinese).

const STORAGE_KEY = "kefu.lang";

/** The language to start with: the saved choice, else the browser's. */
export function initialLanguage() {
  const saved = safeStorage()?.getItem(STORAGE_KEY);
  if (saved === "en" || saved === "zh") return saved;
  const langs = navigator.languages || [navigator.language || "en"];
  return langs.some((l) => String(l).toLowerCase().startsWith("zh")) ? "zh" : "en";
}

/** Remember the user's choice and set the document's language. */
export function saveLanguage(lang) {
  safeStorage()?.setItem(STORAGE_KEY, lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

/**
 * A lookup function for one language: t("key", {n: 3}) fills {n}.
 * Missing keys fall back to English, then to the key itself.
 */
export function translator(strings, lang) {
  const table = strings[lang] || strings.en;
  return (key, vars = {}) => {
    const template = table[key] ?? strings.en[key] ?? key;
    return template.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
  };
}

/** localStorage when the browser allows it (a sandboxed frame may not). */
export function safeStorage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** A clock time such as 14:05 in the page's language. */
export function clockTime(iso, lang) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB", {
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** A duration in seconds as "1:05" or "1:02:03". */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n) => String(n).padStart(2, "0");
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

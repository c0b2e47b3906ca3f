// New-session and new-message alerts: a short tone and a count in the title.

const BASE_TITLE = document.title;
let audio = null;

/** Create the audio context inside a user gesture so browsers allow sound. */
export function unlockSound() {
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
  } catch {
    audio = null;
  }
}

/** Two short notes; higher for a new session than for a new message. */
export function chime(kind) {
  if (!audio || audio.state !== "running") return;
  const start = audio.currentTime;
  const notes = kind === "session" ? [660, 880] : [740];
  notes.forEach((frequency, i) => {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start + i * 0.16);
    gain.gain.exponentialRampToValueAtTime(0.2, start + i * 0.16 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + i * 0.16 + 0.15);
    osc.connect(gain).connect(audio.destination);
    osc.start(start + i * 0.16);
    osc.stop(start + i * 0.16 + 0.16);
  });
}

/** "(3) kefu · Agent workspace" while anything is unread, when enabled. */
export function titleBadge(count, enabled) {
  document.title = enabled && count > 0 ? `(${count}) ${BASE_TITLE}` : BASE_TITLE;
}

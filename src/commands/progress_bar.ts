/**
 * A progress line on a terminal: bytes, rate and time left, redrawn in place on stderr. Only
 * when stderr is a terminal and the output is not JSON; otherwise nothing is drawn.
 *
 * @module
 */

import type { Progress, ProgressCallback } from "../progress.ts";
import { formatBytes } from "./output.ts";

const REDRAW_MS = 100;

const WORDS: Record<Progress["phase"], string> = {
  freeze: "freezing",
  write: "writing",
  sync: "syncing",
  verify: "verifying",
  load: "loading",
  done: "done",
};

/** A progress line; `callback` is undefined when nothing is to be drawn. */
export interface ProgressBar extends Disposable {
  readonly callback: ProgressCallback | undefined;
}

/** "1:05", "12 s". */
function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** The text of one progress line, `elapsedMs` into its phase. */
export function progressLine(progress: Progress, elapsedMs: number): string {
  const { phase, bytes, totalBytes } = progress;
  if (bytes === 0 && !totalBytes) return WORDS[phase];
  let text = `${WORDS[phase]} ${formatBytes(bytes)}`;
  if (totalBytes) text += ` of ${formatBytes(totalBytes)}`;
  const rate = elapsedMs > 0 ? bytes / (elapsedMs / 1000) : 0;
  if (rate > 0 && phase !== "done") {
    text += `, ${formatBytes(rate)}/s`;
    if (totalBytes && totalBytes > bytes) {
      text += `, ${formatSeconds((totalBytes - bytes) / rate)} left`;
    }
  }
  return text;
}

/** A progress line on stderr if it is a terminal and `json` is not set. */
export function progressBar(json: boolean | undefined): ProgressBar {
  if (json || !Deno.stderr.isTerminal()) {
    return { callback: undefined, [Symbol.dispose]() {} };
  }
  const encoder = new TextEncoder();
  let phase: Progress["phase"] | undefined;
  let phaseAt = 0;
  let drawnAt = 0;
  let drawn = false;
  const draw = (text: string) => {
    Deno.stderr.writeSync(encoder.encode(`\r\x1b[K${text}`));
    drawn = true;
  };
  return {
    callback: (progress) => {
      const now = performance.now();
      if (progress.phase !== phase) {
        phase = progress.phase;
        phaseAt = now;
      } else if (now - drawnAt < REDRAW_MS) {
        return;
      }
      drawnAt = now;
      draw(progressLine(progress, now - phaseAt));
    },
    [Symbol.dispose]() {
      if (drawn) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
      drawn = false;
    },
  };
}

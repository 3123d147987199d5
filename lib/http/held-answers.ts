import type { ServerResponse } from 'node:http';

/** An answer written as it is (status, headers, body), without any other work. */
export interface PlainAnswer {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: string;
}

export interface HeldAnswers {
  /** Writes `answer` on `res` after `ms` (at once when `ms` is 0 or `max` answers are already held). */
  answer(res: ServerResponse, answer: PlainAnswer, ms: number): void;
  /** Writes every held answer now (shutdown: nothing is left waiting). */
  release(): void;
  /** How many answers wait. */
  readonly held: number;
}

const write = (res: ServerResponse, a: PlainAnswer) => {
  if (!res.destroyed && !res.headersSent) res.writeHead(a.status, a.headers).end(a.body);
};

/**
 * Answers written later, at most `max` at once: a tarpit for refusals. A client that gave up (its socket closed)
 * frees its place at once. The answers wait on their own timers, so the event loop does nothing for them meanwhile;
 * `observe` hears the count after each change (a gauge).
 */
export function heldAnswers(max: number, observe: (held: number) => void = () => undefined): HeldAnswers {
  const waiting = new Map<ServerResponse, { timer: NodeJS.Timeout; answer: PlainAnswer }>();
  const done = (res: ServerResponse) => {
    const w = waiting.get(res);
    if (!w) return;
    clearTimeout(w.timer);
    waiting.delete(res);
    observe(waiting.size);
    write(res, w.answer);
  };
  return {
    answer(res, answer, ms) {
      if (ms <= 0 || waiting.size >= max) return write(res, answer);
      waiting.set(res, { answer, timer: setTimeout(done, ms, res) });
      observe(waiting.size);
      res.once('close', () => done(res));
    },
    release() {
      for (const res of [...waiting.keys()]) done(res);
    },
    get held() {
      return waiting.size;
    },
  };
}

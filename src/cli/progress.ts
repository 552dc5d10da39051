// A progress bar on a terminal (stderr only, nothing when stderr is not a terminal), through
// cli-progress: a phase name, done/total and a bar, or a count when the total is not known yet.
import cliProgress from "cli-progress";

export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private phase = "";
  private readonly enabled = process.stderr.isTTY === true;

  update(phase: string, done: number, total: number | null): void {
    if (!this.enabled) return;
    if (this.bar && (phase !== this.phase || (total === null) !== (this.bar.getTotal() === 0))) this.stop();
    if (!this.bar) {
      this.phase = phase;
      this.bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          clearOnComplete: true,
          hideCursor: true,
          fps: 10,
          format: total === null ? `${phase} {value} files` : `${phase} [{bar}] {value}/{total}`,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total ?? 0, 0);
    }
    if (total !== null) this.bar.setTotal(total);
    this.bar.update(done);
  }

  /** Erases the bar (before a line of report, and at the end). */
  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

/** Runs a command-line entry point: its number is the exit code; an error is printed, not thrown. */
export function runCli(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}

/**
 * A progress bar on stderr for long exports. It redraws only on a terminal; under cron or in a
 * pipe it prints one line every 10% so logs show progress without a wall of redraws.
 */
export function progressBar(label: string, total: number, stream: NodeJS.WriteStream = process.stderr) {
  let done = 0;
  let lastTenth = -1;
  const draw = () => {
    const share = total > 0 ? Math.min(done / total, 1) : 1;
    const text = `${label} ${done.toLocaleString('en')}/${total.toLocaleString('en')} (${Math.floor(share * 100)}%)`;
    if (stream.isTTY) {
      const width = 30;
      const filled = Math.round(share * width);
      stream.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}`);
    } else if (Math.floor(share * 10) > lastTenth) {
      lastTenth = Math.floor(share * 10);
      stream.write(`${text}\n`);
    }
  };
  const timer = setInterval(draw, 200);
  timer.unref();
  return {
    tick() {
      done++;
    },
    finish() {
      clearInterval(timer);
      draw();
      if (stream.isTTY) stream.write('\n');
    },
  };
}

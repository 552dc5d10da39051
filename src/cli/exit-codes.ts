/** Exit statuses shared by every command (documented in README). */
export const EXIT_OK = 0;
/** At least one input could not be read or is not a valid ELF file; the others were still reported. */
export const EXIT_INPUT_ERROR = 1;
/** Bad command line. */
export const EXIT_USAGE = 2;

/** The status of a run that reported `failures` bad inputs. */
export const exitForFailures = (failures: number): number => (failures > 0 ? EXIT_INPUT_ERROR : EXIT_OK);

/* Where a snapshot's freeze goes, step by step (agent_freeze_times.c): with
 * AMBER_FREEZE_TIMES=1 in the application's environment, each process's leader logs the time
 * from its signal to each named step into the application's log (`<app dir>/log`). */
#ifndef AMBER_AGENT_FREEZE_TIMES_H
#define AMBER_AGENT_FREEZE_TIMES_H

/* The signal arrived: the times that follow count from here. */
void amber_freeze_times_start(void);
/* A step is done (a string literal: kept by address). */
void amber_freeze_mark(const char *step);
/* Logs the steps, once the program runs again. */
void amber_freeze_times_log(void);

#endif

/* The signal that brings a process into its checkpoint agent: one definition for the library,
 * the control library and the supervisor. A real-time signal that programs leave alone. */
#ifndef AMBER_CKPT_SIGNAL_H
#define AMBER_CKPT_SIGNAL_H

#define AMBER_CKPT_SIGNAL 62

#endif

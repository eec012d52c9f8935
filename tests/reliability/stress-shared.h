/* stress-shared.h: the shared-memory record of the stress test
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

#define STRESS_WORKERS 8
#define STRESS_THREADS 4
#define STRESS_UNITS   3

/* The descriptor of the shared record in a worker. */
#define STRESS_SHARED_FD 3

/* One 64-bit word holds, in 3 bits per worker (bits 0-23), how many of its
 * threads hold a unit, and in bits 32-39 which workers the test has killed
 * or is about to kill. A thread that has just acquired adds itself and sums
 * the holders of the workers still alive in the same atomic operation, so
 * the sum is a true snapshot: it can never exceed the number of units
 * taken from the kernel semaphore, whatever the other processes do. A
 * killed worker's holders stay in the word, but no longer count: the
 * kernel may already have given their units to someone else. */
typedef struct {
  guint64 word;
  gint    max_live;
  gint    violations;
  gint    stop;
  gint    errors;
  gint64  ops[STRESS_WORKERS];
  gint64  timeouts[STRESS_WORKERS];
  gint64  cancelled[STRESS_WORKERS];
  char    error_message[512];
} StressShared;

#define STRESS_FIELD_BITS 3
#define STRESS_FIELD_MASK G_GUINT64_CONSTANT (7)
#define STRESS_DEAD_SHIFT 32

static inline int
stress_holders_of (guint64 word,
                   int     worker)
{
  return (int) ((word >> (worker * STRESS_FIELD_BITS)) & STRESS_FIELD_MASK);
}

static inline gboolean
stress_is_dead (guint64 word,
                int     worker)
{
  return (word >> (STRESS_DEAD_SHIFT + worker)) & 1;
}

static inline int
stress_live_holders (guint64 word)
{
  int sum = 0;

  for (int w = 0; w < STRESS_WORKERS; w++)
    if (!stress_is_dead (word, w))
      sum += stress_holders_of (word, w);

  return sum;
}

/* Adds a holder for @worker and returns the live holders at that instant. */
static inline int
stress_enter (StressShared *shared,
              int           worker)
{
  guint64 add = G_GUINT64_CONSTANT (1) << (worker * STRESS_FIELD_BITS);
  guint64 now = __atomic_add_fetch (&shared->word, add, __ATOMIC_SEQ_CST);

  return stress_live_holders (now);
}

static inline void
stress_leave (StressShared *shared,
              int           worker)
{
  guint64 sub = G_GUINT64_CONSTANT (1) << (worker * STRESS_FIELD_BITS);

  __atomic_sub_fetch (&shared->word, sub, __ATOMIC_SEQ_CST);
}

static inline void
stress_mark_dead (StressShared *shared,
                  int           worker)
{
  __atomic_or_fetch (&shared->word, G_GUINT64_CONSTANT (1) << (STRESS_DEAD_SHIFT + worker),
                     __ATOMIC_SEQ_CST);
}

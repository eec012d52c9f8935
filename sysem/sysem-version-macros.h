/* sysem-version-macros.h: export and availability macros
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__SYSEM_INSIDE__) && !defined(SYSEM_COMPILATION)
#error "Only <sysem/sysem.h> can be included directly."
#endif

#include <glib.h>

#include "sysem-version.h"

#ifndef _SYSEM_EXTERN
# if defined(_WIN32) || defined(__CYGWIN__)
#  define _SYSEM_EXTERN __declspec(dllexport) extern
# elif defined(__GNUC__) && __GNUC__ >= 4
#  define _SYSEM_EXTERN __attribute__((visibility ("default"))) extern
# else
#  define _SYSEM_EXTERN extern
# endif
#endif

/**
 * SECTION:sysem-version-macros
 * @Title: Availability macros
 * @Short_description: Compare versions of the sysem API
 * @Include: sysem/sysem.h
 *
 * Every public symbol of sysem is marked with the version that added it.
 * The macros here encode a major and minor version into one integer, so
 * that versions can be compared in the preprocessor.
 *
 * |[<!-- language="C" -->
 * #if SYSEM_VERSION_CUR_STABLE >= SYSEM_ENCODE_VERSION (1, 2)
 *   use_something_new ();
 * #else
 *   do_it_the_old_way ();
 * #endif
 * ]|
 *
 * Since: 1.0
 */

/**
 * SYSEM_ENCODE_VERSION:
 * @major: a major version
 * @minor: a minor version
 *
 * Packs @major and @minor into one integer that can be compared with
 * %SYSEM_VERSION_CUR_STABLE and friends.
 *
 * Since: 1.0
 */
#define SYSEM_ENCODE_VERSION(major,minor) ((major) << 16 | (minor) << 8)

/**
 * SYSEM_VERSION_1_0:
 *
 * The encoded value of the 1.0 series.
 *
 * Since: 1.0
 */
#define SYSEM_VERSION_1_0 (SYSEM_ENCODE_VERSION (1, 0))

/**
 * SYSEM_VERSION_CUR_STABLE:
 *
 * The encoded value of the current stable series.
 *
 * Since: 1.0
 */
#define SYSEM_VERSION_CUR_STABLE (SYSEM_ENCODE_VERSION (SYSEM_MAJOR_VERSION, SYSEM_MINOR_VERSION))

#define SYSEM_AVAILABLE_IN_ALL _SYSEM_EXTERN
#define SYSEM_AVAILABLE_IN_1_0 _SYSEM_EXTERN

/* sysem.h: the sysem umbrella header
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#define __SYSEM_INSIDE__

#include "sysem-version.h"
#include "sysem-version-macros.h"
#include "sysem-enum-types.h"
#include "sysem-semaphore.h"

#undef __SYSEM_INSIDE__

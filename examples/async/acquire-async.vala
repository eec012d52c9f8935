/* acquire-async.vala: waiting for a semaphore with yield, in Vala
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   acquire-async-vala [--posix] KEY
 *
 * Five jobs share two slots, counted by the system semaphore KEY (the same
 * semaphore as the C, Python and JavaScript examples and any Qt program that
 * uses KEY). Each job is an async method that yields until it has a slot.
 */

const int N_JOBS = 5;
const int N_SLOTS = 2;

int running = 0;
int finished = 0;
bool failed = false;

async void sleep_ms (uint ms) {
    Timeout.add (ms, sleep_ms.callback);
    yield;
}

async void job (Sysem.Semaphore sem, int number, Cancellable cancellable, MainLoop loop) {
    print ("job %d: waiting for a slot\n", number);
    try {
        yield sem.acquire_async (cancellable);

        if (++running > N_SLOTS) {
            printerr ("job %d: %d jobs running at once\n", number, running);
            failed = true;
        }
        print ("job %d: got a slot, working\n", number);
        // The work is simulated: a timeout stands for it.
        yield sleep_ms (50 + Random.int_range (0, 100));
        running--;
        print ("job %d: done, giving the slot back\n", number);
        sem.release (1);
    } catch (IOError.CANCELLED e) {
        print ("job %d: cancelled\n", number);
    } catch (Error e) {
        printerr ("job %d: %s\n", number, e.message);
        failed = true;
    }

    if (++finished == N_JOBS)
        loop.quit ();
}

int main (string[] args) {
    var key_type = Sysem.KeyType.SYSTEM_V;
    string? key = null;

    foreach (unowned string arg in args[1:args.length]) {
        if (arg == "--posix")
            key_type = Sysem.KeyType.POSIX;
        else if (key == null)
            key = arg;
        else {
            key = null;
            break;
        }
    }
    if (key == null) {
        printerr ("Usage: %s [--posix] KEY\n", args[0]);
        return 1;
    }

    Sysem.Semaphore sem;
    try {
        // Open mode: an existing semaphore keeps its count, a new one gets
        // N_SLOTS units.
        sem = new Sysem.Semaphore.full (key, key_type, N_SLOTS, Sysem.AccessMode.OPEN);
    } catch (Error e) {
        printerr ("%s\n", e.message);
        return 1;
    }

    var loop = new MainLoop ();
    var cancellable = new Cancellable ();
    for (int i = 1; i <= N_JOBS; i++)
        job.begin (sem, i, cancellable, loop);
    loop.run ();

    return failed ? 1 : 0;
}

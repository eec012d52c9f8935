/* test-vala.vala: the whole sysem API from Vala, through sysem-1.vapi
 *
 * SPDX-FileCopyrightText: 2026 The sysem authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: test-vala PEER-COMMAND...
 *
 * PEER-COMMAND starts a program in another language that speaks the
 * protocol of peer.py; it shares a semaphore with this process.
 */

[CCode (cheader_filename = "unistd.h")]
extern int getpid ();

const int DEADLINE_SECONDS = 20;

string[] peer_command;
int counter = 0;
GenericArray<Sysem.Semaphore> made;

string unique_key (string what) {
    return "sysemtest-gi-vala-%d-%d-%s".printf (getpid (),
                                                counter++, what);
}

string system_path (Sysem.Semaphore sem) {
    if (sem.key_type == Sysem.KeyType.POSIX)
        return "/dev/shm/sem." + sem.native_key.substring (1);
    return sem.native_key;
}

Sysem.Semaphore make (string key, Sysem.KeyType key_type, int initial_value,
                      Sysem.AccessMode mode = Sysem.AccessMode.CREATE) throws Error {
    var sem = new Sysem.Semaphore.full (key, key_type, initial_value, mode);
    made.add (sem);
    return sem;
}

/* Removes what the test made; anything left fails the test. */
void clean_up () {
    foreach (var sem in made) {
        if (sem.native_key == null)
            continue;
        var path = system_path (sem);
        try {
            sem.remove ();
        } catch (Sysem.SemaphoreError.NOT_FOUND e) {
            /* removed by the test already */
        } catch (Error e) {
            error ("removing %s: %s", path, e.message);
        }
        assert_false (FileUtils.test (path, FileTest.EXISTS));
    }
    made = new GenericArray<Sysem.Semaphore> ();
}

/* Runs the main loop until done() holds, failing after the deadline. */
void run_until (MainLoop loop, owned SourceFunc done) {
    bool timed_out = false;
    var id = Timeout.add_seconds (DEADLINE_SECONDS, () => {
        timed_out = true;
        loop.quit ();
        return Source.REMOVE;
    });
    while (!done () && !timed_out)
        loop.run ();
    if (!timed_out)
        Source.remove (id);
    assert_true (done ());
}

void check_sysem_error (Error e, int code) {
    assert_true (e is Sysem.SemaphoreError);
    assert_true (e.domain == Sysem.SemaphoreError.quark ());
    assert_cmpstr (e.domain.to_string (), CompareOperator.EQ, "sysem-semaphore-error-quark");
    assert_cmpint (e.code, CompareOperator.EQ, code);
    assert_true (e.matches (Sysem.SemaphoreError.quark (), code));
}

void test_open_by_key () {
    try {
        var key = unique_key ("new");
        var first = new Sysem.Semaphore (key, 3, Sysem.AccessMode.CREATE);
        made.add (first);
        var second = new Sysem.Semaphore (key, 0, Sysem.AccessMode.OPEN);

        assert_true (first is Initable);
        assert_cmpint (second.get_value (), CompareOperator.EQ, 3);
        assert_true (first.acquire ());
        assert_cmpint (second.get_value (), CompareOperator.EQ, 2);
        assert_true (second.release (1));
        assert_cmpint (first.get_value (), CompareOperator.EQ, 3);
        assert_true (FileUtils.test (system_path (first), FileTest.IS_REGULAR));

        /* Create resets an existing semaphore, Open keeps its count. */
        new Sysem.Semaphore (key, 5, Sysem.AccessMode.CREATE);
        assert_cmpint (first.get_value (), CompareOperator.EQ, 5);
        var kept = new Sysem.Semaphore (key, 1, Sysem.AccessMode.OPEN);
        assert_cmpint (kept.get_value (), CompareOperator.EQ, 5);
    } catch (Error e) {
        error ("%s", e.message);
    } finally {
        clean_up ();
    }
}

void test_new_full_and_native () {
    try {
        var key = unique_key ("posix");
        var posix = make (key, Sysem.KeyType.POSIX, 2);
        assert_true (posix.key_type == Sysem.KeyType.POSIX);
        assert_true (posix.native_key.has_prefix ("/qipc_systemsem_"));
        assert_true (FileUtils.test (system_path (posix), FileTest.EXISTS));

        var name = "/" + unique_key ("native");
        var native = new Sysem.Semaphore.native (name, Sysem.KeyType.POSIX, 2,
                                                 Sysem.AccessMode.CREATE);
        made.add (native);
        assert_null (native.key);
        assert_cmpstr (native.native_key, CompareOperator.EQ, name);
        assert_cmpint (native.get_value (), CompareOperator.EQ, 2);

        var path = Path.build_filename (Environment.get_tmp_dir (), unique_key ("native-file"));
        var sysv = new Sysem.Semaphore.native (path, Sysem.KeyType.SYSTEM_V, 4,
                                               Sysem.AccessMode.CREATE);
        made.add (sysv);
        assert_cmpstr (sysv.get_native_key (), CompareOperator.EQ, path);
        assert_true (FileUtils.test (path, FileTest.IS_REGULAR));
        assert_cmpint (sysv.get_value (), CompareOperator.EQ, 4);
    } catch (Error e) {
        error ("%s", e.message);
    } finally {
        clean_up ();
    }
}

void test_acquire_release () {
    try {
        foreach (var key_type in new Sysem.KeyType[] { Sysem.KeyType.SYSTEM_V, Sysem.KeyType.POSIX }) {
            var sem = make (unique_key ("acquire"), key_type, 2);
            assert_true (sem.acquire ());
            assert_true (sem.acquire (new Cancellable ()));
            assert_cmpint (sem.get_value (), CompareOperator.EQ, 0);
            assert_true (sem.release (2));
            assert_true (sem.release (0));
            assert_cmpint (sem.get_value (), CompareOperator.EQ, 2);
        }
    } catch (Error e) {
        error ("%s", e.message);
    } finally {
        clean_up ();
    }
}

void assert_timed_out (Sysem.Semaphore sem, int64 timeout, Cancellable? cancellable) throws GLib.Error {
    try {
        sem.try_acquire (timeout, cancellable);
        assert_not_reached ();
    } catch (IOError.TIMED_OUT e) {
    }
}

void test_try_acquire () {
    try {
        foreach (var key_type in new Sysem.KeyType[] { Sysem.KeyType.SYSTEM_V, Sysem.KeyType.POSIX }) {
            var sem = make (unique_key ("try"), key_type, 1);
            assert_true (sem.try_acquire (0));
            /* Running out of time throws IOError.TIMED_OUT (1.1), with and
             * without a timeout. */
            assert_timed_out (sem, 0, null);
            assert_timed_out (sem, 10 * TimeSpan.MILLISECOND, new Cancellable ());
            sem.release (1);
            assert_true (sem.try_acquire (DEADLINE_SECONDS * TimeSpan.SECOND));
            sem.release (1);

            /* A cancellable cancelled beforehand fails, even with a unit free. */
            var cancellable = new Cancellable ();
            cancellable.cancel ();
            foreach (var timeout in new int64[] { 0, 1000, -1 }) {
                try {
                    sem.try_acquire (timeout, cancellable);
                    assert_not_reached ();
                } catch (IOError.CANCELLED e) {
                }
            }
            try {
                sem.acquire (cancellable);
                assert_not_reached ();
            } catch (IOError.CANCELLED e) {
            }
            assert_cmpint (sem.get_value (), CompareOperator.EQ, 1);
        }
    } catch (Error e) {
        error ("%s", e.message);
    } finally {
        clean_up ();
    }
}

void test_cancel_blocked_acquire () {
    try {
        var sem = make (unique_key ("cancel"), Sysem.KeyType.SYSTEM_V, 0);
        var cancellable = new Cancellable ();
        var loop = new MainLoop ();

        var blocker = new Thread<Error?> ("blocker", () => {
            try {
                sem.acquire (cancellable);
                return null;
            } catch (Error e) {
                return e.copy ();
            }
        });

        /* A timeout source cancels while the thread waits. */
        Timeout.add (10, () => {
            cancellable.cancel ();
            loop.quit ();
            return Source.REMOVE;
        });
        run_until (loop, () => cancellable.is_cancelled ());

        var error = blocker.join ();
        assert_true (error != null);
        assert_true (error is IOError.CANCELLED);
        assert_cmpint (sem.get_value (), CompareOperator.EQ, 0);
        sem.release (1);
        assert_true (sem.try_acquire (0));
    } catch (Error e) {
        error ("%s", e.message);
    } finally {
        clean_up ();
    }
}

async bool acquire_twice (Sysem.Semaphore sem) throws Error {
    var got = yield sem.acquire_async ();
    assert_true (got);
    /* The second one waits for a release from an idle source. */
    Idle.add (() => {
        try {
            sem.release (1);
        } catch (Error e) {
            error ("%s", e.message);
        }
        return Source.REMOVE;
    });
    return yield sem.acquire_async (new Cancellable ());
}

void test_acquire_async () {
    try {
        var sem = make (unique_key ("async"), Sysem.KeyType.SYSTEM_V, 1);
        var loop = new MainLoop ();
        bool done = false;
        bool result = false;

        acquire_twice.begin (sem, (obj, res) => {
            try {
                result = acquire_twice.end (res);
            } catch (Error e) {
                error ("%s", e.message);
            }
            done = true;
            loop.quit ();
        });
        run_until (loop, () => done);
        assert_true (result);
        assert_cmpint (sem.get_value (), CompareOperator.EQ, 0);
    } catch (Error e) {
        error ("%s", e.message);
    } finally {
        clean_up ();
    }
}

void test_acquire_async_cancel () {
    try {
        foreach (var key_type in new Sysem.KeyType[] { Sysem.KeyType.SYSTEM_V, Sysem.KeyType.POSIX }) {
            var sem = make (unique_key ("async-cancel"), key_type, 0);
            var cancellable = new Cancellable ();
            var loop = new MainLoop ();
            Error? error = null;
            bool done = false;

            sem.acquire_async.begin (cancellable, (obj, res) => {
                try {
                    sem.acquire_async.end (res);
                } catch (Error e) {
                    error = e.copy ();
                }
                done = true;
                loop.quit ();
            });
            Timeout.add (10, () => {
                cancellable.cancel ();
                return Source.REMOVE;
            });
            run_until (loop, () => done);
            assert_true (error is IOError.CANCELLED);
            assert_cmpint (sem.get_value (), CompareOperator.EQ, 0);
            sem.release (1);
            assert_true (sem.try_acquire (0));
        }
    } catch (Error e) {
        error ("%s", e.message);
    } finally {
        clean_up ();
    }
}

void test_errors () {
    try {
        new Sysem.Semaphore ("", 1, Sysem.AccessMode.CREATE);
        assert_not_reached ();
    } catch (Sysem.SemaphoreError.KEY_ERROR e) {
        check_sysem_error (e, Sysem.SemaphoreError.KEY_ERROR);
    } catch (Error e) {
        error ("%s", e.message);
    }

    try {
        new Sysem.Semaphore.full ("", Sysem.KeyType.POSIX, 1, Sysem.AccessMode.OPEN);
        assert_not_reached ();
    } catch (Error e) {
        check_sysem_error (e, Sysem.SemaphoreError.KEY_ERROR);
    }

    try {
        var sem = make (unique_key ("range"), Sysem.KeyType.SYSTEM_V, 1);
        try {
            sem.release (40000);
            assert_not_reached ();
        } catch (Sysem.SemaphoreError.OUT_OF_RESOURCES e) {
            check_sysem_error (e, Sysem.SemaphoreError.OUT_OF_RESOURCES);
        }
        assert_cmpint (sem.get_value (), CompareOperator.EQ, 1);

        var other = new Sysem.Semaphore (sem.key, 0, Sysem.AccessMode.OPEN);
        assert_true (sem.remove ());
        try {
            other.acquire ();
            assert_not_reached ();
        } catch (Sysem.SemaphoreError e) {
            assert_true (e is Sysem.SemaphoreError.NOT_FOUND);
            check_sysem_error (e, Sysem.SemaphoreError.NOT_FOUND);
        }
    } catch (Error e) {
        error ("%s", e.message);
    } finally {
        clean_up ();
    }

    assert_cmpint (Sysem.SemaphoreError.PERMISSION_DENIED, CompareOperator.EQ, 1);
    assert_cmpint (Sysem.SemaphoreError.NOT_FOUND, CompareOperator.EQ, 4);
    assert_cmpint (Sysem.SemaphoreError.UNKNOWN, CompareOperator.EQ, 6);
    assert_cmpint (Sysem.AccessMode.CREATE, CompareOperator.EQ, 1);
    assert_cmpint (Sysem.KeyType.POSIX, CompareOperator.EQ, 1);
}

void test_properties_and_notify () {
    try {
        var first = unique_key ("notify-a");
        var second = unique_key ("notify-b");
        var sem = make (first, Sysem.KeyType.SYSTEM_V, 3, Sysem.AccessMode.CREATE);
        assert_cmpstr (sem.key, CompareOperator.EQ, first);
        assert_cmpint (sem.initial_value, CompareOperator.EQ, 3);
        assert_true (sem.mode == Sysem.AccessMode.CREATE);
        assert_true (sem.key_type == Sysem.KeyType.SYSTEM_V);
        assert_cmpstr (sem.native_key, CompareOperator.EQ, sem.get_native_key ());
        assert_true (Path.is_absolute (sem.native_key));

        var first_path = system_path (sem);
        string[] notified = {};
        string[] keys = {};
        sem.notify.connect ((obj, pspec) => { notified += pspec.name; });
        sem.notify["key"].connect ((obj, pspec) => { keys += ((Sysem.Semaphore) obj).key; });

        assert_true (sem.set_key (second, 2, Sysem.AccessMode.OPEN));
        qsort_with_data<string> (notified, sizeof (string), (a, b) => strcmp (a, b));
        assert_cmpstr (string.joinv (",", notified), CompareOperator.EQ,
                       "initial-value,key,mode,native-key");
        assert_cmpstr (string.joinv (",", keys), CompareOperator.EQ, second);
        assert_cmpstr (sem.key, CompareOperator.EQ, second);
        assert_cmpint (sem.get_value (), CompareOperator.EQ, 2);
        assert_false (FileUtils.test (first_path, FileTest.EXISTS));
    } catch (Error e) {
        error ("%s", e.message);
    } finally {
        clean_up ();
    }
}

class Peer : Object {
    Subprocess process;
    OutputStream input;
    DataInputStream output;

    public Peer () throws Error {
        process = new Subprocess.newv (peer_command,
                                       SubprocessFlags.STDIN_PIPE | SubprocessFlags.STDOUT_PIPE);
        input = process.get_stdin_pipe ();
        output = new DataInputStream (process.get_stdout_pipe ());
    }

    public void send (string line) throws Error {
        size_t written;
        input.write_all ((line + "\n").data, out written);
    }

    public void expect (string expected) throws Error {
        assert_cmpstr (output.read_line_utf8 (), CompareOperator.EQ, expected);
    }

    public void close () throws Error {
        send ("quit");
        input.close ();
        assert_true (process.wait_check ());
    }

    public void kill () {
        process.force_exit ();
    }
}

async void share (Sysem.KeyType key_type, string word) throws Error {
    var key = unique_key ("cross-" + word);
    var sem = make (key, key_type, 1);
    assert_true (sem.acquire ());

    var peer = new Peer ();
    try {
        peer.send ("open %s %s".printf (key, word));
        peer.expect ("opened 0");
        peer.send ("try");
        peer.expect ("false");

        /* We hold the unit, the peer waits for it. */
        peer.send ("acquire");
        peer.expect ("waiting");
        sem.release (1);
        peer.expect ("acquired");
        assert_timed_out (sem, 0, null);

        /* The peer holds it, we wait for it. */
        Idle.add (() => {
            try {
                peer.send ("release 1");
                peer.expect ("released");
            } catch (Error e) {
                error ("%s", e.message);
            }
            return Source.REMOVE;
        });
        assert_true (yield sem.acquire_async (null));

        peer.send ("value");
        peer.expect ("value 0");
        sem.release (1);
        peer.send ("value");
        peer.expect ("value 1");
        peer.close ();
    } finally {
        peer.kill ();
    }
    assert_cmpint (sem.get_value (), CompareOperator.EQ, 1);
}

void test_share_with_another_language () {
    try {
        foreach (var word in new string[] { "sysv", "posix" }) {
            var key_type = word == "posix" ? Sysem.KeyType.POSIX : Sysem.KeyType.SYSTEM_V;
            var loop = new MainLoop ();
            bool done = false;

            share.begin (key_type, word, (obj, res) => {
                try {
                    share.end (res);
                } catch (Error e) {
                    error ("%s", e.message);
                }
                done = true;
                loop.quit ();
            });
            run_until (loop, () => done);
        }
    } finally {
        clean_up ();
    }
}

int main (string[] args) {
    Test.init (ref args);

    if (args.length < 2) {
        printerr ("usage: test-vala PEER-COMMAND...\n");
        return 2;
    }
    peer_command = args[1:args.length];
    made = new GenericArray<Sysem.Semaphore> ();

    Test.add_func ("/gi/vala/open-by-key", test_open_by_key);
    Test.add_func ("/gi/vala/new-full-and-native", test_new_full_and_native);
    Test.add_func ("/gi/vala/acquire-release", test_acquire_release);
    Test.add_func ("/gi/vala/try-acquire", test_try_acquire);
    Test.add_func ("/gi/vala/cancel-blocked-acquire", test_cancel_blocked_acquire);
    Test.add_func ("/gi/vala/acquire-async", test_acquire_async);
    Test.add_func ("/gi/vala/acquire-async-cancel", test_acquire_async_cancel);
    Test.add_func ("/gi/vala/errors", test_errors);
    Test.add_func ("/gi/vala/properties-and-notify", test_properties_and_notify);
    Test.add_func ("/gi/vala/share-with-another-language", test_share_with_another_language);

    return Test.run ();
}

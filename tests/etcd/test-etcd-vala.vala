// test-etcd-vala.vala: the etcd key type from Vala, run by etcd-run,
// which starts etcd and sets SYSEM_ETCD_ENDPOINTS.
//
// SPDX-FileCopyrightText: 2026 The sysem authors
// SPDX-License-Identifier: LGPL-2.1-or-later

int main () {
    var uri = "etcd://%s/sysemtest-vala-%s".printf (Environment.get_variable ("SYSEM_ETCD_ENDPOINTS"),
                                                    get_monotonic_time ().to_string ());
    try {
        var sem = new Sysem.Semaphore.native (uri, Sysem.KeyType.ETCD, 2, Sysem.AccessMode.CREATE);
        assert (sem.key_type == Sysem.KeyType.ETCD);
        assert (sem.acquire (null));
        assert (sem.get_value () == 1);
        try {
            sem.try_acquire (0, null);
            sem.try_acquire (0, null);
            assert_not_reached ();
        } catch (IOError.TIMED_OUT e) {
        }
        assert (sem.release (2));
        assert (sem.get_value () == 2);
    } catch (Error e) {
        printerr ("%s\n", e.message);
        return 1;
    }

    try {
        new Sysem.Semaphore.native ("etcd://127.0.0.1:0/x", Sysem.KeyType.ETCD, 1, Sysem.AccessMode.OPEN);
        return 1;
    } catch (Sysem.SemaphoreError.KEY_ERROR e) {
    } catch (Error e) {
        printerr ("%s\n", e.message);
        return 1;
    }
    print ("ok\n");
    return 0;
}

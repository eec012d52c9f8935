#!/usr/bin/env -S gjs -m
// acquire-async.js: waiting for a semaphore with async and await, in GJS
//
// SPDX-FileCopyrightText: 2026 The sysem authors
// SPDX-License-Identifier: LGPL-2.1-or-later
//
//   gjs -m acquire-async.js [--posix] KEY
//
// Five jobs share two slots, counted by the system semaphore KEY (the same
// semaphore as the C, Python and Vala examples and any Qt program that uses
// KEY). Gio._promisify() turns acquire_async()/acquire_finish() into a
// method that returns a Promise, so each job simply awaits its slot.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Sysem from 'gi://Sysem?version=1';
import System from 'system';

Gio._promisify(Sysem.Semaphore.prototype, 'acquire_async', 'acquire_finish');

const N_JOBS = 5;
const N_SLOTS = 2;

function sleep(ms) {
    return new Promise(resolve => {
        GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
            resolve();
            return GLib.SOURCE_REMOVE;
        });
    });
}

let running = 0;

async function job(sem, number, cancellable) {
    print(`job ${number}: waiting for a slot`);
    try {
        await sem.acquire_async(cancellable);
    } catch (e) {
        if (e.matches?.(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED)) {
            print(`job ${number}: cancelled`);
            return;
        }
        throw e;
    }

    try {
        running++;
        if (running > N_SLOTS)
            throw new Error(`${running} jobs running at once`);
        print(`job ${number}: got a slot, working`);
        // The work is simulated: a timeout stands for it.
        await sleep(50 + Math.floor(Math.random() * 100));
        print(`job ${number}: done, giving the slot back`);
    } finally {
        running--;
        sem.release(1);
    }
}

async function main(args) {
    let keyType = Sysem.KeyType.SYSTEM_V;
    if (args.includes('--posix')) {
        keyType = Sysem.KeyType.POSIX;
        args = args.filter(a => a !== '--posix');
    }
    if (args.length !== 1) {
        printerr('Usage: gjs -m acquire-async.js [--posix] KEY');
        return 1;
    }

    // Open mode: an existing semaphore keeps its count, a new one gets
    // N_SLOTS units.
    const sem = Sysem.Semaphore.new_full(args[0], keyType, N_SLOTS, Sysem.AccessMode.OPEN);
    const cancellable = new Gio.Cancellable();
    const jobs = [];
    for (let number = 1; number <= N_JOBS; number++)
        jobs.push(job(sem, number, cancellable));
    await Promise.all(jobs);

    // JavaScript frees objects whenever its garbage collector runs, which
    // may be after the program ends: leave nothing behind in this demo. A
    // real application that shares KEY with others just drops the object.
    sem.remove();
    return 0;
}

const loop = new GLib.MainLoop(null, false);
let status = 1;
main(ARGV).then(s => {
    status = s;
}).catch(e => {
    logError(e);
}).finally(() => loop.quit());
loop.run();
System.exit(status);

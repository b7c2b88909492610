//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// lockDir takes an exclusive flock on dir/lockFileName. flock belongs to
// the open file description, so a second open of the same directory is
// refused whether it comes from another process or from this one; pebble's
// own LOCK file uses fcntl locks, which a process never conflicts with
// itself on. The kernel drops the lock when the process dies, so a crash
// leaves nothing to clean up.
func lockDir(dir string) (release func() error, err error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("storage: lock data directory: %w", err)
	}
	if err := flockRetry(f); err != nil {
		pid := readPID(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &dirInUseError{dir: dir, pid: pid}
		}
		return nil, fmt.Errorf("storage: lock data directory %q: %w", dir, err)
	}
	// The pid is for the error message of whoever comes next; the lock,
	// not the file's content, is what excludes. Written at a fixed width,
	// it always overwrites the previous one whole, with no truncate.
	_, _ = f.WriteAt(fmt.Appendf(nil, "%-20d\n", os.Getpid()), 0)
	return f.Close, nil
}

// flockRetry takes the lock, retrying for lockRetryFor: between fork and
// exec, a child process started by anyone in this process shares every
// open file description, so a lock just released by Close can look held
// for that instant.
func flockRetry(f *os.File) error {
	deadline := time.Now().Add(lockRetryFor)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		return 0
	}
	return pid
}

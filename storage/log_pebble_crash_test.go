package storage

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the child process of these tests: with
// childEnv set, TestMain runs the child's part instead of the tests.
const (
	childEnv    = "NOEX_STORAGE_CHILD"
	childDirEnv = "NOEX_STORAGE_CHILD_DIR"
	// longEnv enables the heavy variants (with -short unset).
	longEnv = "NOEX_LONG"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		code := m.Run()
		if recover1MTemp != "" {
			_ = os.RemoveAll(recover1MTemp)
		}
		os.Exit(code)
	case "open":
		childOpen(os.Getenv(childDirEnv))
	case "crash":
		childCrash(os.Getenv(childDirEnv))
	default:
		fmt.Println("unknown child mode")
		os.Exit(2)
	}
	os.Exit(0)
}

func long(t testing.TB) bool {
	return !testing.Short() && os.Getenv(longEnv) == "1"
}

// runChild runs the test binary as a child in mode on dir and returns
// what it printed.
func runChild(t testing.TB, mode, dir string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childDirEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", mode, err, out)
	}
	return string(out)
}

func childOpen(dir string) {
	l, err := OpenPebble(dir, PebbleOptions{})
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	fmt.Println("opened")
	_ = l.Close()
}

// The crash workload: change set n puts record n into buckets 1 and 2,
// overwrites slot n%crashSlots of bucket 3, deletes record n-crashKeep of
// bucket 2, and sets every counter to n. Change sets are numbered in
// submission order.
const (
	crashSlots   = 10
	crashKeep    = 5
	crashWriters = 8
)

func crashChangeSet(n int) *ChangeSet {
	val := fmt.Sprintf(`{"n":%d,"pad":"%s"}`, n, strings.Repeat("p", 150))
	key := strconv.Itoa(n)
	ops := []Op{
		put(1, uint64(n), key, val, int64(n), uint64(n+1)),
		put(2, uint64(n), key, val, int64(n), uint64(n+1)),
		put(3, uint64(n%crashSlots), strconv.Itoa(n%crashSlots), val, int64(n), crashSlots),
	}
	if n >= crashKeep {
		ops = append(ops, Op{Kind: OpDelete, BucketID: 2, Seq: uint64(n - crashKeep), Key: []byte(strconv.Itoa(n - crashKeep))})
	}
	return cs(ops...)
}

// childCrash submits crash change sets from several goroutines until it
// is killed, printing "ack <n>" once change set n's wait returned.
func childCrash(dir string) {
	l, err := OpenPebble(dir, PebbleOptions{})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	next, defined := 0, false
	err = l.Recover(func(cs *ChangeSet) error {
		for _, op := range cs.Ops {
			if op.Kind == OpDefineBucket {
				defined = true
			}
			if op.Kind == OpPut && op.BucketID == 1 {
				next = int(op.Seq) + 1
			}
		}
		return nil
	})
	if err != nil {
		fmt.Println("recover:", err)
		os.Exit(1)
	}
	if !defined {
		if err := l.Submit(cs(define(1, "one", `{}`, -1, 0), define(2, "two", `{}`, -1, 0), define(3, "slots", `{}`, -1, crashSlots)))(); err != nil {
			fmt.Println("define:", err)
			os.Exit(1)
		}
	}
	fmt.Println("ready", next)
	var mu sync.Mutex
	for range crashWriters {
		go func() {
			for {
				mu.Lock()
				n := next
				next++
				wait := l.Submit(crashChangeSet(n))
				mu.Unlock()
				if err := wait(); err != nil {
					fmt.Println("wait:", err)
					os.Exit(1)
				}
				fmt.Println("ack", n) // one write(2) per line: lines never interleave
			}
		}()
	}
	select {} // until killed
}

// checkCrashState checks a recovered crash workload: the change sets
// present are exactly 0..k for some k ≥ every acknowledged one, each
// whole.
func checkCrashState(t testing.TB, got recovered, maxAcked int) (k int) {
	t.Helper()
	if len(got.Buckets) == 0 {
		if maxAcked >= 0 {
			t.Fatalf("nothing recovered, but change set %d was acknowledged", maxAcked)
		}
		return -1
	}
	if len(got.Buckets) != 3 {
		t.Fatalf("recovered buckets %+v, want 3", got.Buckets)
	}
	var per [4][]recoveredRecord
	for _, r := range got.Records {
		per[r.BucketID] = append(per[r.BucketID], r)
	}
	k = len(per[1]) - 1
	if k < maxAcked {
		t.Fatalf("recovered change sets 0..%d, but %d was acknowledged", k, maxAcked)
	}
	for i, r := range per[1] {
		if r.Seq != uint64(i) {
			t.Fatalf("bucket 1 record %d has seq %d: change sets are not a prefix of the submission order", i, r.Seq)
		}
	}
	for id := uint64(1); id <= 3; id++ {
		b := got.Buckets[id-1]
		if b.Counter != int64(k) {
			t.Fatalf("bucket %d counter %d, want %d (change set %d, the last recovered)", id, b.Counter, k, k)
		}
	}
	// Bucket 2 keeps the last crashKeep records, bucket 3 the last value
	// of each slot: anything else is half a change set.
	var want2 []uint64
	for n := max(0, k-crashKeep+1); n <= k; n++ {
		want2 = append(want2, uint64(n))
	}
	if len(per[2]) != len(want2) {
		t.Fatalf("bucket 2 has %d records, want %d (change sets up to %d)", len(per[2]), len(want2), k)
	}
	for i, r := range per[2] {
		if r.Seq != want2[i] {
			t.Fatalf("bucket 2 record %d has seq %d, want %d", i, r.Seq, want2[i])
		}
	}
	if want := min(k+1, crashSlots); len(per[3]) != want {
		t.Fatalf("bucket 3 has %d slots, want %d", len(per[3]), want)
	}
	for _, r := range per[3] {
		last := k - (k-int(r.Seq))%crashSlots
		if !strings.HasPrefix(r.Value, fmt.Sprintf(`{"n":%d,`, last)) {
			t.Fatalf("bucket 3 slot %d holds %.20s, want change set %d", r.Seq, r.Value, last)
		}
	}
	return k
}

// TestPebbleCrash kills a writing child with SIGKILL at random moments and
// checks after each kill that every acknowledged change set survived,
// whole, in order. The child goes on from the recovered state each time.
// NOEX_LONG=1 runs 200 kills.
func TestPebbleCrash(t *testing.T) {
	t.Parallel()
	rounds := 10
	if long(t) {
		rounds = 200
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	total := 0
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=crash", childDirEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()

		// Mostly kill while writing; sometimes while opening or
		// recovering.
		maxAcked, ready := -1, false
		var killAt <-chan time.Time
		if rng.IntN(4) == 0 {
			killAt = time.After(time.Duration(rng.IntN(40)) * time.Millisecond)
		}
		var other []string
	wait:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					break wait
				}
				switch {
				case strings.HasPrefix(line, "ready"):
					ready = true
					if killAt == nil {
						killAt = time.After(time.Duration(5+rng.IntN(60)) * time.Millisecond)
					}
				case strings.HasPrefix(line, "ack "):
					n, _ := strconv.Atoi(line[4:])
					maxAcked = max(maxAcked, n)
				default:
					other = append(other, line)
				}
			case <-killAt:
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killAt = nil
			}
		}
		_ = cmd.Wait()
		if len(other) > 0 {
			t.Fatalf("round %d: child printed %q", round, other)
		}

		l := openTest(t, dir, PebbleOptions{})
		got := recoverAll(t, l)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		k := checkCrashState(t, got, maxAcked)
		if k < total-1 {
			t.Fatalf("round %d: recovered 0..%d, but 0..%d had survived the previous kill", round, k, total-1)
		}
		if testing.Verbose() {
			t.Logf("round %d: ready=%v acked ≤ %d, recovered 0..%d", round, ready, maxAcked, k)
		}
		total = k + 1
	}
	t.Logf("%d kills, %d change sets survived in all", rounds, total)
}

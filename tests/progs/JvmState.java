// A JVM with worker threads, a heap of objects and a thread pool, frozen and restored: after the
// restore (it waits for DIR/go) its heap holds the same data, its threads run on, its pid is
// the same and the garbage collector still works. Prints "ready", then PASS or FAIL lines.
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;

public class JvmState {
  static void check(boolean ok, String what) {
    if (!ok) {
      System.out.println("FAIL: " + what);
      System.exit(1);
    }
  }

  static long checksum(Map<Integer, String> map) {
    long sum = 0;
    for (Map.Entry<Integer, String> e : map.entrySet()) sum += e.getKey() * 31L + e.getValue().hashCode();
    return sum;
  }

  public static void main(String[] args) {
    try {
      run(args);
    } catch (Throwable e) {
      check(false, e.toString());
    }
  }

  static void run(String[] args) throws Exception {
    Path go = Paths.get(args[0], "go");
    AtomicLong counter = new AtomicLong();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    for (int t = 0; t < 4; t++) pool.submit(() -> { while (true) counter.incrementAndGet(); });
    Map<Integer, String> map = new HashMap<>();
    for (int i = 0; i < 200_000; i++) map.put(i, "value-" + (i * 7919L));
    long sum = checksum(map);
    long pid = ProcessHandle.current().pid();
    Thread.sleep(300);
    System.out.println("ready");
    System.out.flush();
    while (!Files.exists(go)) Thread.sleep(10);

    check(ProcessHandle.current().pid() == pid, "the pid changed from " + pid);
    check(map.size() == 200_000 && checksum(map) == sum, "the heap's map changed");
    long before = counter.get();
    Thread.sleep(200);
    check(counter.get() > before, "the worker threads do not run");
    List<byte[]> garbage = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      garbage.add(new byte[1 << 20]);
      if (garbage.size() > 20) garbage.remove(0);
    }
    System.gc();
    ExecutorService fresh = Executors.newSingleThreadExecutor(); // the pool's threads never end
    check(fresh.submit(() -> 42).get(5, TimeUnit.SECONDS) == 42, "a new thread does not run");
    System.out.println("PASS");
    System.out.flush();
    System.exit(0);
  }
}

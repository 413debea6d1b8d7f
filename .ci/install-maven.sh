#!/usr/bin/env bash
# Makes sure Java 17 + Maven are there and prefetches into the local Maven repository
# (~/.m2 unless -Dmaven.repo.local=DIR is passed) everything that
#   bindings/kotlin/pom.xml          (Kotlin/JVM bindings + JUnit 5 tests, installed as a jar)
#   bindings/kotlin-bench/pom.xml    (JMH benchmark of the save path)
#   android/pom.xml                  (Android compile check against android-all, and
#                                     android/jvm-tests: Robolectric 4.16 with the instrumented
#                                     Android 15 it runs offline, about 200 MB; ProGuard)
# need, so later builds also work offline (mvn -o).
#
# dependency:go-offline alone is not enough: it skips surefire's JUnit Platform provider
# and the plexus-utils Maven injects into old plugins. So this also builds a throwaway
# copy of each module, with one tiny source and test, which fetches exactly what the
# real builds use. Nothing is written into the work tree.
#
# Usage: bash .ci/install-maven.sh [extra mvn args, e.g. -Dmaven.repo.local=/tmp/m2]
#        VERIFY_OFFLINE=1 bash .ci/install-maven.sh    # then rebuild the copies with -o
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if ! command -v mvn >/dev/null 2>&1 || ! command -v javac >/dev/null 2>&1; then
  echo "install-maven: installing maven and openjdk-17-jdk-headless" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven openjdk-17-jdk-headless >/dev/null
fi

# Nothing to do when this script, its arguments and the poms are unchanged since its last
# complete run from this work tree (tests/run.sh calls it every time). The stamp lives in the
# work tree's target/, so a fresh clone (CI) always runs it in full.
stamp="$ROOT/target/.install-maven.stamp"
poms=()
while IFS= read -r pom; do poms+=("$ROOT/$pom"); done < <(
  git -C "$ROOT" ls-files --cached --others --exclude-standard -- '*pom.xml' | sort)
want="$( (cat "${BASH_SOURCE[0]}" "${poms[@]}"; echo "$HOME $*") | sha256sum | cut -d' ' -f1)"
if [ "${VERIFY_OFFLINE:-0}" != 1 ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "install-maven: up to date (script and poms unchanged since the last prefetch)" >&2
  exit 0
fi

MVN_ARGS=(-B -q -ntp "$@")
# Maven 3.8 prints bare colour resets even with -B -q: drop them (pipefail keeps mvn's status).
mvnq() { mvn "${MVN_ARGS[@]}" "$@" 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d'; }
start=$SECONDS

echo "install-maven: dependency:go-offline" >&2
mvnq -f "$ROOT/bindings/kotlin/pom.xml" dependency:go-offline
mvnq -f "$ROOT/android/pom.xml" dependency:go-offline

SCRATCH="$(mktemp -d /tmp/kinesis-recorder-m2-prefetch.XXXXXX)"
trap 'rm -rf "$SCRATCH"' EXIT

# JVM bindings: one generated-style file, one hand-written file, one JUnit 5 test.
K="$SCRATCH/bindings/kotlin"
mkdir -p "$K/src/main/kotlin/prefetch" "$K/src/test/kotlin/prefetch" "$K/gen/prefetch/ffi"
# Installed (as the real build is, for the benchmark) under a name of its own.
sed 's|<artifactId>kinesis-recorder-kotlin</artifactId>|<artifactId>kinesis-recorder-kotlin-prefetch</artifactId>|' \
  "$ROOT/bindings/kotlin/pom.xml" > "$K/pom.xml"
cat > "$K/gen/prefetch/ffi/LibC.kt" <<'KT'
package prefetch.ffi
import com.sun.jna.Library
import com.sun.jna.Native
interface LibC : Library { fun getpid(): Int }
object Ffi { val libc: LibC by lazy { Native.load("c", LibC::class.java) } }
KT
cat > "$K/src/main/kotlin/prefetch/Pid.kt" <<'KT'
package prefetch
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
suspend fun pid(): Int = withContext(Dispatchers.IO) { prefetch.ffi.Ffi.libc.getpid() }
KT
cat > "$K/src/test/kotlin/prefetch/PidTest.kt" <<'KT'
package prefetch
import kotlinx.coroutines.test.runTest
import org.junit.jupiter.api.Test
import kotlin.test.assertEquals
class PidTest {
    @Test fun pidMatches() = runTest { assertEquals(ProcessHandle.current().pid().toInt(), pid()) }
}
KT

# Android: the compile check (one class using the framework, coroutines-android and JNA) and
# jvm-tests (one class, one JUnit 4 test: the surefire-junit4 provider, the .aar unpacking).
A="$SCRATCH/android"
mkdir -p "$A/compile-check" "$A/kinesis-recorder/src/main/kotlin/prefetch" \
  "$A/jvm-tests/src/main/kotlin/prefetch" "$A/jvm-tests/src/test/kotlin/prefetch"
cp "$ROOT/android/pom.xml" "$A/pom.xml"
cp "$ROOT/android/compile-check/pom.xml" "$A/compile-check/pom.xml"
cp "$ROOT/android/jvm-tests/pom.xml" "$A/jvm-tests/pom.xml"
cat > "$A/jvm-tests/src/main/kotlin/prefetch/Main.kt" <<'KT'
package prefetch
fun main() = println(::watch.name)
KT
cat > "$A/jvm-tests/src/test/kotlin/prefetch/MainTest.kt" <<'KT'
package prefetch
import org.junit.Test
import kotlin.test.assertTrue
class MainTest {
    @Test fun robolectricAndProguardAreThere() {
        assertTrue(org.robolectric.RobolectricTestRunner::class.java.name.isNotEmpty())
        assertTrue(proguard.ProGuard::class.java.name.isNotEmpty())
    }
}
KT
cat > "$A/kinesis-recorder/src/main/kotlin/prefetch/Net.kt" <<'KT'
package prefetch
import android.content.Context
import android.net.ConnectivityManager
import android.net.Network
import android.os.Handler
import android.os.Looper
import kotlinx.coroutines.android.asCoroutineDispatcher
fun watch(context: Context) {
    val handler = Handler(Looper.getMainLooper())
    handler.asCoroutineDispatcher()
    com.sun.jna.Native.POINTER_SIZE
    context.getSystemService(ConnectivityManager::class.java)?.registerDefaultNetworkCallback(
        object : ConnectivityManager.NetworkCallback() { override fun onAvailable(network: Network) {} }, handler)
}
KT

# Save-path benchmark: one JMH benchmark, without the dependency on the real bindings' jar.
B="$SCRATCH/bindings/kotlin-bench"
mkdir -p "$B/src/main/java/prefetch"
sed '/<!-- bench-subject/,/<!-- \/bench-subject -->/d' "$ROOT/bindings/kotlin-bench/pom.xml" > "$B/pom.xml"
cat > "$B/src/main/java/prefetch/Offer.java" <<'JAVA'
package prefetch;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
@State(Scope.Thread)
public class Offer {
    final ConcurrentLinkedQueue<byte[]> queue = new ConcurrentLinkedQueue<>();
    @Benchmark public void offer() { queue.offer(new byte[1]); queue.poll(); }
}
JAVA

build_copies() {
  mvnq "$@" -f "$K/pom.xml" install -Duniffi.generated.dir="$K/gen" -Dnative.lib.dir="$K"
  mvnq "$@" -f "$B/pom.xml" package dependency:build-classpath -Dmdep.outputFile=target/classpath.txt \
    -Dmdep.includeScope=runtime
  [ -s "$B/target/classes/META-INF/BenchmarkList" ] # JMH's annotation processor ran
  mvnq "$@" -f "$A/pom.xml" test -Duniffi.generated.dir="$K/gen"
}

echo "install-maven: building throwaway copies (fetches compiler, test provider)" >&2
build_copies
if [ "${VERIFY_OFFLINE:-0}" = 1 ]; then
  echo "install-maven: rebuilding the copies offline" >&2
  rm -rf "$K/target" "$B/target" "$A/compile-check/target" "$A/jvm-tests/target"
  build_copies -o
fi
mkdir -p "$ROOT/target"
echo "$want" >"$stamp"
echo "install-maven: done in $((SECONDS - start)) s" >&2

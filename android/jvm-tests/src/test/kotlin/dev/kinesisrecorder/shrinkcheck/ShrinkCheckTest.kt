package dev.kinesisrecorder.shrinkcheck

import dev.kinesisrecorder.support.Kinesalite
import dev.kinesisrecorder.support.tempStore
import org.junit.Test
import proguard.Configuration
import proguard.ConfigurationParser
import proguard.ProGuard
import java.io.File
import java.util.concurrent.TimeUnit
import java.util.zip.ZipFile
import kotlin.test.assertEquals
import kotlin.test.assertNotEquals
import kotlin.test.assertTrue

/**
 * A minified release must not crash: ProGuard shrinks and obfuscates the sample app,
 * the library (Android glue, shared layer, generated bindings), JNA, Kotlin and kotlinx-coroutines
 * with the library's consumer-rules.pro (R8 reads the same rules) and what the Android build
 * adds (src/test/proguard/android-app.pro), against the Android 15 framework. Then
 * [RoundTrip][main] runs on the shrunk classes alone, in a new JVM, against kinesalite.
 *
 * A control run shrinks the same classes with the library's keep rules left out: its round trip
 * must fail, or this check could not tell good rules from bad ones.
 */
class ShrinkCheckTest {
    private fun property(name: String) = System.getProperty(name) ?: error("-D$name is not set (run through the pom)")
    private val output = File(property("shrink.output"))
    private val consumerRules = File(property("shrink.consumer.rules"))

    @Test
    fun theShrunkAppCompletesARoundTrip() {
        val jar = shrink("with-rules", consumerRules)
        ZipFile(jar).use { zip ->
            val names = zip.entries().asSequence().map { it.name }.toSet()
            assertTrue("dev/kinesisrecorder/shrinkcheck/RoundTripKt.class" in names)
            assertTrue("dev/kinesisrecorder/android/RecorderJobService.class" in names, "kept by the manifest rules")
            assertTrue(names.none { it.startsWith("kotlinx/coroutines/flow/FlowKt") }, "really shrunk and obfuscated")
            assertTrue(names.any { it.startsWith("com/sun/jna/") && it.endsWith("libjnidispatch.so") }, "JNA's native part kept")
        }

        val stream = Kinesalite.newStream("shrunk")
        val run = runRoundTrip(jar, stream, count = 120)
        assertEquals(0, run.exitCode, "the round trip on the shrunk classes failed:\n${run.output}")
        assertTrue(run.output.contains("round trip: 120 submitted"), run.output)
        assertEquals(List(120) { "shrink-$it" }.sorted(), Kinesalite.admin.readAll(stream).map { it.text }.sorted())
    }

    @Test
    fun withoutTheLibrarysKeepRulesTheSameRoundTripFails() {
        // Only the -dontwarn lines stay, so ProGuard still runs: the keep rules are what is tested.
        val warningsOnly = File(output, "consumer-rules-without-keeps.pro").apply {
            parentFile.mkdirs()
            writeText(consumerRules.readLines().filter { it.trim().startsWith("-dontwarn") }.joinToString("\n"))
        }
        val jar = shrink("without-rules", warningsOnly)
        val run = runRoundTrip(jar, Kinesalite.newStream("shrunk-broken"), count = 3)
        assertNotEquals(0, run.exitCode, "the round trip passed without the keep rules:\n${run.output}")
        println("control run failed as expected:\n${run.output.lines().take(6).joinToString("\n")}")
    }

    /** Writes the ProGuard configuration to `<output>/<name>/proguard.pro` and runs it. */
    private fun shrink(name: String, libraryRules: File): File {
        val dir = File(output, name).apply { deleteRecursively(); mkdirs() }
        val jar = File(dir, "app-shrunk.jar")
        val inJars = listOf(property("shrink.library.classes"), property("shrink.app.classes")) +
            property("shrink.jars").split(File.pathSeparator)
        val config = File(dir, "proguard.pro")
        config.writeText(
            buildString {
                // Multi-release and module entries are not Android's; the jars' own ProGuard rules
                // are applied below (-include), as AGP applies them.
                for (input in inJars) {
                    appendLine("-injars '$input'(!META-INF/versions/**,!module-info.class,!META-INF/MANIFEST.MF,!META-INF/proguard/**,!META-INF/com.android.tools/**)")
                }
                appendLine("-outjars '$jar'")
                // The Android framework; java.* from the JDK (android-all leaves them out, as
                // Robolectric runs on a JVM), which is also what the round trip runs on.
                appendLine("-libraryjars '${property("shrink.android.jar")}'")
                for (module in listOf("java.base", "java.logging")) {
                    appendLine("-libraryjars '${System.getProperty("java.home")}/jmods/$module.jmod'(!**.jar;!module-info.class)")
                }
                appendLine("-dontnote")
                appendLine("-printmapping '${File(dir, "mapping.txt")}'")
                appendLine("-include '${libraryRules.absolutePath}'")
                appendLine("-include '${File(property("shrink.android.rules")).absolutePath}'")
                for (rules in embeddedRules(inJars, dir)) appendLine("-include '$rules'")
            },
        )
        val configuration = Configuration()
        ConfigurationParser(config, System.getProperties()).use { it.parse(configuration) }
        ProGuard(configuration).execute()
        check(jar.isFile) { "ProGuard wrote no $jar" }
        val inputBytes = inJars.sumOf { input -> File(input).walk().filter { it.isFile }.sumOf { it.length() } }
        println("shrink check ($name): ${inputBytes / 1024} KiB of classes and jars -> ${jar.length() / 1024} KiB")
        return jar
    }

    /** The `META-INF/proguard/` rules that libraries ship inside their jars (kotlinx-coroutines). */
    private fun embeddedRules(inputs: List<String>, dir: File): List<File> =
        inputs.map(::File).filter { it.isFile }.flatMap { input ->
            ZipFile(input).use { zip ->
                zip.entries().asSequence().filter { it.name.startsWith("META-INF/proguard/") && it.name.endsWith(".pro") }
                    .map { entry ->
                        File(dir, "${input.nameWithoutExtension}-${entry.name.substringAfterLast('/')}").also { file ->
                            zip.getInputStream(entry).use { source -> file.outputStream().use { source.copyTo(it) } }
                        }
                    }.toList()
            }
        }

    private class Run(val exitCode: Int, val output: String)

    /** The shrunk jar alone on the class path of a new JVM (plus the native library's directory). */
    private fun runRoundTrip(jar: File, stream: String, count: Int): Run {
        val java = File(System.getProperty("java.home"), "bin/java").path
        val log = File(jar.parentFile, "round-trip.log")
        val process = ProcessBuilder(
            java, "-Djna.library.path=${property("native.lib.dir")}", "-cp", jar.path,
            "dev.kinesisrecorder.shrinkcheck.RoundTripKt", Kinesalite.endpoint, stream, tempStore(), count.toString(),
        ).redirectErrorStream(true).redirectOutput(log).start()
        if (!process.waitFor(90, TimeUnit.SECONDS)) {
            process.destroyForcibly()
            error("the round trip did not end in 90 s:\n${log.readText()}")
        }
        return Run(process.exitValue(), log.readText())
    }
}

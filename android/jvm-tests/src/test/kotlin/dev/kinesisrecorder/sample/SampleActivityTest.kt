package dev.kinesisrecorder.sample

import android.graphics.Bitmap
import android.graphics.Canvas
import android.os.Looper
import android.view.View
import android.widget.Button
import android.widget.Switch
import android.widget.TextView
import dev.kinesisrecorder.android.Device
import dev.kinesisrecorder.android.waitUntil
import dev.kinesisrecorder.support.Kinesalite
import dev.kinesisrecorder.support.RecordingProxy
import org.junit.After
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.annotation.Config
import org.robolectric.annotation.GraphicsMode
import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/** The sample app against the test's kinesalite, through a proxy that counts requests. */
class TestSampleApp : SampleApp() {
    override val endpoint: String get() = SampleServer.proxy.endpoint

    override fun onTerminate() {
        recorder.close()
        super.onTerminate()
    }
}

/** Created before the application (Robolectric creates it before each test). */
object SampleServer {
    val proxy: RecordingProxy by lazy {
        Kinesalite.admin.createStream(SampleConfig.STREAM, 1)
        RecordingProxy(Kinesalite.endpoint)
    }
}

/**
 * The sample's activity built by Robolectric, with the real recorder: its save button saves on
 * the main looper, its network switch stops and resumes delivery, its records reach kinesalite.
 * Native graphics render the screen after saves made offline: the picture in android/README.md.
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [35], application = TestSampleApp::class, qualifiers = "w360dp-h640dp-xhdpi")
@GraphicsMode(GraphicsMode.Mode.NATIVE)
class SampleActivityTest {
    private val app get() = RuntimeEnvironment.getApplication() as TestSampleApp

    @After
    fun closeRecorder() {
        app.recorder.close()
    }

    @Test
    fun savesOnTheMainLooperStopsAndResumesDeliveryWithTheSwitchAndRendersTheScreen() {
        Device.changeNetwork(Device.wifi())
        val controller = Robolectric.buildActivity(MainActivity::class.java)
        val activity = controller.get()
        // What the sample's AndroidManifest.xml sets (Robolectric runs without the merged manifest).
        activity.setTheme(android.R.style.Theme_Material_Light_DarkActionBar)
        activity.title = "Kinesis Recorder sample"
        controller.setup()
        val root = activity.window.decorView
        fun <T : View> view(tag: String): T = root.findViewWithTag<T>(tag) ?: error("no view tagged $tag")
        val save = view<Button>(MainActivity.TAG_SAVE)
        val network = view<Switch>(MainActivity.TAG_NETWORK)
        val stats = view<TextView>(MainActivity.TAG_STATS)
        val proxy = SampleServer.proxy
        val requestsBefore = proxy.requests.size
        val readBefore = Kinesalite.admin.readAll(SampleConfig.STREAM).size

        // Offline: the switch pauses delivery; 1,000 saves on the main looper (the test's thread).
        network.performClick()
        assertTrue(!network.isChecked && !app.recorder.stats().networkAvailable)
        assertTrue(Looper.myLooper() == Looper.getMainLooper())
        save.performClick()
        assertTrue(view<TextView>(MainActivity.TAG_SAVE_RESULT).text.startsWith("1,000 saves took"))
        app.recorder.flush()
        Device.idleMainUntil(what = "the stats show 1,000 pending records") {
            stats.text.startsWith("pending: 1000 records")
        }
        Thread.sleep(500)
        assertEquals(requestsBefore, proxy.requests.size, "nothing sent while the switch is off")
        render(root, File(System.getProperty("sample.screenshot")))

        // Online again: everything pending goes at once, each record once.
        network.performClick()
        waitUntil(what = "the 1,000 records reach kinesalite") { app.recorder.stats().pendingRecords == 0uL }
        val stored = Kinesalite.admin.readAll(SampleConfig.STREAM).drop(readBefore)
        assertEquals(1_000, stored.size)
        assertEquals(1_000, stored.map { it.text }.toSet().size, "no duplicate")
        assertTrue(stored.all { it.text.startsWith("{\"event\":\"tap\"") })
        controller.pause().stop().destroy()
    }

    /** Draws [view] with Robolectric's native graphics (real Skia) into a PNG. */
    private fun render(view: View, file: File) {
        val bitmap = Bitmap.createBitmap(view.width, view.height, Bitmap.Config.ARGB_8888)
        view.draw(Canvas(bitmap))
        file.parentFile?.mkdirs()
        file.outputStream().use { check(bitmap.compress(Bitmap.CompressFormat.PNG, 100, it)) }
        println("sample screenshot: $file (${view.width}x${view.height})")
    }
}

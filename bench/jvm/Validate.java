import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.xml.transform.stream.StreamSource;
import javax.xml.validation.Schema;
import javax.xml.validation.SchemaFactory;
import javax.xml.validation.Validator;
import net.sf.saxon.s9api.Axis;
import net.sf.saxon.s9api.DocumentBuilder;
import net.sf.saxon.s9api.Processor;
import net.sf.saxon.s9api.XdmDestination;
import net.sf.saxon.s9api.XdmItem;
import net.sf.saxon.s9api.XdmNode;
import net.sf.saxon.s9api.XdmNodeKind;
import net.sf.saxon.s9api.XdmSequenceIterator;
import net.sf.saxon.s9api.XsltExecutable;
import net.sf.saxon.s9api.XsltTransformer;
import org.xml.sax.ErrorHandler;
import org.xml.sax.SAXParseException;

/**
 * The official route, as the KoSIT validator runs a scenario: XML Schema (javax.xml.validation,
 * the JDK's own implementation), then each compiled Schematron stylesheet (CEN EN 16931, then
 * XRechnung) in Saxon-HE on one parsed tree. Stylesheets are compiled once per JVM.
 *
 * Arguments: ROUTE=XSD,XSLT[,XSLT...] per route, optionally --once ROUTE FILE (validate one
 * file, print one JSON line, exit: the cold start-up of the official route).
 * Without --once: prints {"ready": ...}, then answers each stdin line "ROUTE\tROUNDS\tFILE"
 * with one JSON line: per round the wall time and CPU time (process, all threads: GC and JIT
 * included; and the calling thread's, ThreadMXBean) in ms, the XSD errors and the failed
 * asserts plus successful reports of the last round.
 */
public final class Validate {

    private record Route(Schema schema, List<XsltExecutable> rules) {}

    private record Outcome(int xsdErrors, int findings) {}

    private static final String SVRL = "http://purl.oclc.org/dsdl/svrl";
    private static final Processor SAXON = new Processor(false);
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final com.sun.management.OperatingSystemMXBean OS =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    public static void main(String[] args) throws Exception {
        long start = System.nanoTime();
        Map<String, Route> routes = new LinkedHashMap<>();
        Map<String, XsltExecutable> compiled = new HashMap<>();
        SchemaFactory schemas = SchemaFactory.newDefaultInstance();
        String[] once = null;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--once")) {
                once = new String[] {args[i + 1], args[i + 2]};
                i += 2;
                continue;
            }
            String[] named = args[i].split("=", 2);
            String[] files = named[1].split(",");
            List<XsltExecutable> rules = new ArrayList<>();
            for (int f = 1; f < files.length; f++) {
                String file = files[f];
                if (!compiled.containsKey(file)) {
                    compiled.put(file, SAXON.newXsltCompiler().compile(new StreamSource(new File(file))));
                }
                rules.add(compiled.get(file));
            }
            routes.put(named[0], new Route(schemas.newSchema(new File(files[0])), rules));
        }
        if (once != null) {
            byte[] data = Files.readAllBytes(Path.of(once[1]));
            Outcome outcome = validate(routes.get(once[0]), data, once[1]);
            System.out.println("{\"xsd_errors\": " + outcome.xsdErrors() + ", \"findings\": "
                + outcome.findings() + "}");
            return;
        }
        System.out.println("{\"ready\": true, \"compile_ms\": " + (System.nanoTime() - start) / 1e6
            + ", \"saxon\": \"" + SAXON.getSaxonProductVersion() + "\", \"schema_factory\": \""
            + schemas.getClass().getName() + "\", \"java\": \"" + System.getProperty("java.version")
            + "\"}");
        System.out.flush();
        serve(routes);
    }

    private static void serve(Map<String, Route> routes) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] parts = line.split("\t", 3);
            try {
                System.out.println(measure(routes.get(parts[0]), Integer.parseInt(parts[1]), parts[2]));
            } catch (Exception e) {
                System.out.println("{\"error\": \"" + escape(e.toString()) + "\"}");
            }
            System.out.flush();
        }
    }

    private static String measure(Route route, int rounds, String file) throws Exception {
        if (route == null) {
            throw new IllegalArgumentException("unknown route");
        }
        byte[] data = Files.readAllBytes(Path.of(file));
        StringBuilder wall = new StringBuilder();
        StringBuilder cpu = new StringBuilder();
        StringBuilder thread = new StringBuilder();
        Outcome outcome = null;
        for (int r = 0; r < rounds; r++) {
            long w0 = System.nanoTime();
            long c0 = OS.getProcessCpuTime();
            long t0 = THREADS.getCurrentThreadCpuTime();
            outcome = validate(route, data, file);
            long t1 = THREADS.getCurrentThreadCpuTime();
            long c1 = OS.getProcessCpuTime();
            long w1 = System.nanoTime();
            String sep = r == 0 ? "" : ", ";
            wall.append(sep).append((w1 - w0) / 1e6);
            cpu.append(sep).append((c1 - c0) / 1e6);
            thread.append(sep).append((t1 - t0) / 1e6);
        }
        return "{\"wall_ms\": [" + wall + "], \"cpu_ms\": [" + cpu + "], \"thread_cpu_ms\": ["
            + thread + "], \"xsd_errors\": " + outcome.xsdErrors() + ", \"findings\": "
            + outcome.findings() + "}";
    }

    /** One document through the route: schema first, then every stylesheet on one tree. */
    private static Outcome validate(Route route, byte[] data, String systemId) throws Exception {
        int[] errors = {0};
        Validator validator = route.schema().newValidator();
        validator.setErrorHandler(new ErrorHandler() {
            public void warning(SAXParseException e) {}
            public void error(SAXParseException e) { errors[0]++; }
            public void fatalError(SAXParseException e) { errors[0]++; }
        });
        validator.validate(new StreamSource(new ByteArrayInputStream(data), systemId));
        DocumentBuilder builder = SAXON.newDocumentBuilder();
        XdmNode document = builder.build(new StreamSource(new ByteArrayInputStream(data), systemId));
        int findings = 0;
        for (XsltExecutable rules : route.rules()) {
            XsltTransformer transformer = rules.load();
            XdmDestination report = new XdmDestination();
            transformer.setInitialContextNode(document);
            transformer.setDestination(report);
            transformer.transform();
            findings += countFindings(report.getXdmNode());
        }
        return new Outcome(errors[0], findings);
    }

    private static int countFindings(XdmNode report) {
        int count = 0;
        XdmSequenceIterator<XdmNode> top = report.axisIterator(Axis.CHILD);
        while (top.hasNext()) {
            XdmNode root = top.next();
            if (root.getNodeKind() != XdmNodeKind.ELEMENT) {
                continue;
            }
            XdmSequenceIterator<XdmNode> children = root.axisIterator(Axis.CHILD);
            while (children.hasNext()) {
                XdmItem item = children.next();
                XdmNode child = (XdmNode) item;
                if (child.getNodeKind() == XdmNodeKind.ELEMENT
                        && SVRL.equals(child.getNodeName().getNamespaceURI())) {
                    String local = child.getNodeName().getLocalName();
                    if (local.equals("failed-assert") || local.equals("successful-report")) {
                        count++;
                    }
                }
            }
        }
        return count;
    }

    private static String escape(String text) {
        return text.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ");
    }
}

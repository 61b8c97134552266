package org.privllm.trusted.verify;

import java.util.HashMap;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.obf.Channel;
import org.privllm.trusted.obf.MaskedWeights;

/**
 * An exact float64 executor behind the {@link Channel} contract: the same computation as the real
 * executor without the float32 wire, so the obfuscation algebra itself can be checked to 1e-10. For
 * verification only; it runs in the caller's process and offers no isolation.
 */
public final class Float64Channel implements Channel {
    private final Map<SessionId, Map<Long, MaskedWeights>> sessions = new HashMap<>();
    private long nextSession;
    private long nextWeight;

    @Override
    public synchronized SessionId openSession() {
        SessionId id = new SessionId("f64-" + nextSession++);
        sessions.put(id, new HashMap<>());
        return id;
    }

    @Override
    public synchronized void closeSession(SessionId session) {
        sessions.remove(session);
    }

    @Override
    public synchronized WeightId upload(SessionId session, MaskedWeights weights) {
        long id = ++nextWeight;
        session(session).put(id, weights);
        return new WeightId(id);
    }

    @Override
    public synchronized DMatrixRMaj linear(SessionId session, WeightId weight, DMatrixRMaj x, DMatrixRMaj compensation) {
        MaskedWeights w = session(session).get(weight.value());
        if (w == null) {
            throw new IllegalArgumentException("unknown weight id " + weight.value() + " in this session");
        }
        DMatrixRMaj y = Dense.mul(x, w.weight());
        if (w.loraA() != null) {
            y = Dense.add(y, Dense.mul(Dense.mul(x, w.loraA()), w.loraB()));
        }
        if (w.bias() != null) {
            Dense.addRowInPlace(y, w.bias());
        }
        return compensation == null ? y : Dense.add(y, compensation);
    }

    /** Sessions currently open. */
    public synchronized int openSessions() {
        return sessions.size();
    }

    private Map<Long, MaskedWeights> session(SessionId id) {
        Map<Long, MaskedWeights> s = sessions.get(id);
        if (s == null) {
            throw new IllegalArgumentException("unknown session");
        }
        return s;
    }

    @Override
    public synchronized void close() {
        sessions.clear();
    }
}
